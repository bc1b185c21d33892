/**
 * The servers a scenario can drive: ./server, the null relay, ngIRCd, InspIRCd,
 * each over plain TCP or TLS (a target is one server on one transport).
 * Each start() picks a free port, writes what config it needs into `dir`, starts
 * the process in the foreground (so its PID is the server's), and waits until it
 * accepts connections. stop() ends that PID.
 *
 * TLS: ./server serves its own identity (ECDSA P-256, made at its first start) and
 * the null relay a fresh one of the same kind; the IRC daemons serve a self-signed
 * certificate of the same kind made for the bench (benchCert), on a TLS-only port.
 */
import type { Subprocess } from "bun";
import { existsSync, writeFileSync } from "node:fs";
import { createIdentity } from "../../src/net/identity.ts";
import { join } from "node:path";
import type { Adapter } from "./adapter.ts";
import { chatAdapter } from "./chat-adapter.ts";
import { ircAdapter } from "./irc-adapter.ts";
import { freePort, spawnTracked, stopProcess, waitForPort } from "./proc.ts";

export type TargetName = "server" | "null-relay" | "ngircd" | "inspircd";
export type Transport = "plain" | "tls";
export const TRANSPORTS: readonly Transport[] = ["plain", "tls"];

/** A target's column in the results: its name, with "+tls" over TLS ("server", "server+tls"). */
export const columnOf = (name: string, transport: Transport): string => (transport === "tls" ? `${name}+tls` : name);

export type Running = { port: number; pid: number; proc: Subprocess; stop(): Promise<void> };

export type StartOptions = {
  /** Where configs, logs and builds go (a temp folder of this bench run). */
  dir: string;
  /** Credentials file with the bench users (our server only). */
  credentials: string;
  /** SQLite file for the store, or ":memory:" (our server only). */
  store?: string;
  /** More environment for the server (a diagnostic: `BUN_JSC_*` options of the JavaScript engine). */
  env?: Record<string, string>;
  /** Everything the server writes to stderr, as it comes. */
  onStderr?: (text: string) => void;
};

export interface Target {
  readonly name: TargetName;
  /** Serves TLS (and the loadgen speaks it) or plain TCP. */
  readonly tls: boolean;
  /** Its column in the results (columnOf). */
  readonly column: string;
  readonly adapter: Adapter;
  /** Offline messages kept for logged-out users. */
  readonly hasMailbox: boolean;
  /**
   * Logins in flight at once while a scenario sets up its clients (not in the
   * login storm, which has its own): ngIRCd listens with a backlog of 10 (more
   * connects at once get SYNs dropped and retried after 1 s, 3 s, ...), InspIRCd 3
   * finishes registrations in a once-a-second pass (so it needs many at once).
   */
  readonly setupConcurrency: number;
  /** null when it can run here; else why not and how to fix it. */
  unavailable(): string | null;
  start(o: StartOptions): Promise<Running>;
}

const IRC_INSTALL = "as root: sh bench/ensure-ircd.sh, or apt-get install -y ngircd inspircd";

async function launch(cmd: string[], port: number, o: StartOptions): Promise<Running> {
  const proc = spawnTracked(cmd, { cwd: o.dir, stderr: "pipe", stdout: "pipe", env: { ...process.env, ...o.env } });
  let stderr = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const c of proc.stderr as ReadableStream<Uint8Array>) {
      const text = decoder.decode(c, { stream: true });
      o.onStderr?.(text);
      stderr = (stderr + text).slice(-2000);
    }
  })();
  void (async () => {
    for await (const _ of proc.stdout as ReadableStream<Uint8Array>);
  })();
  try {
    await waitForPort(port, 15_000, () => proc.exitCode === null && proc.signalCode === null);
  } catch (e) {
    await stopProcess(proc);
    throw new Error(`${cmd[0]} did not start: ${(e as Error).message}\n${stderr.trim()}`);
  }
  return { port, pid: proc.pid, proc, stop: () => stopProcess(proc) };
}

/** Retry a start when another process grabbed the port between freePort() and bind. */
async function withPort(start: (port: number) => Promise<Running>): Promise<Running> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await start(freePort());
    } catch (e) {
      if (attempt >= 2) throw e;
    }
  }
}

const ROOT = join(import.meta.dir, "..", "..");

/**
 * How to run a program: the compiled binary, or (profiling) its source under
 * `bun --cpu-prof`, which writes a .cpuprofile and a .md summary into profileDir on exit.
 */
function program(bin: string, source: string, profileDir?: string): string[] {
  if (!profileDir) return [bin];
  return [process.execPath, "--cpu-prof", "--cpu-prof-md", "--cpu-prof-interval=250", `--cpu-prof-dir=${profileDir}`, join(ROOT, source)];
}

export function chatServer(bin: string, transport: Transport, profileDir?: string): Target {
  const tls = transport === "tls";
  return {
    name: "server",
    tls,
    column: columnOf("server", transport),
    adapter: chatAdapter,
    hasMailbox: true,
    setupConcurrency: 100,
    unavailable: () => (existsSync(bin) || profileDir ? null : `${bin} is missing: run \`npm run build\``),
    start: (o) =>
      withPort((port) =>
        launch(
          [...program(bin, "src/server/main.ts", profileDir), String(port), "60", "3600", "--host", "127.0.0.1", "--credentials", o.credentials, "--store", o.store ?? ":memory:",
            ...(tls ? ["--identity", `${o.dir}/server-identity.pem`] : ["--no-tls"])],
          port,
          o,
        ),
      ),
  };
}

export function nullRelay(bin: string, transport: Transport, profileDir?: string): Target {
  const tls = transport === "tls";
  return {
    name: "null-relay",
    tls,
    column: columnOf("null-relay", transport),
    adapter: chatAdapter,
    hasMailbox: false,
    setupConcurrency: 100,
    unavailable: () => (existsSync(bin) || profileDir ? null : `${bin} is missing`),
    start: (o) => withPort((port) => launch([...program(bin, "bench/null-relay.ts", profileDir), String(port), ...(tls ? ["--tls"] : [])], port, o)),
  };
}

function which(bin: string): string | null {
  for (const d of ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]) {
    if (existsSync(join(d, bin))) return join(d, bin);
  }
  return null;
}

/**
 * The self-signed certificate the IRC daemons serve over TLS: ECDSA P-256 like
 * ./server's identity, made once per bench run (through the project's own
 * identity module) into the run's folder.
 */
async function benchCert(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, "irc-cert.pem");
  const key = join(dir, "irc-key.pem");
  if (!existsSync(cert) || !existsSync(key)) {
    const id = await createIdentity("bench.local");
    writeFileSync(key, id.key, { mode: 0o600 });
    writeFileSync(cert, id.cert);
  }
  return { cert, key };
}

/**
 * ngIRCd with every limit and penalty off, no DNS/ident/PAM lookups. Over TLS it
 * listens on its [SSL] port only (GnuTLS; it generates DH parameters at start,
 * before it listens, which TLS 1.3 with ECDHE does not use).
 */
export function ngircd(transport: Transport): Target {
  const tls = transport === "tls";
  return {
    name: "ngircd",
    tls,
    column: columnOf("ngircd", transport),
    adapter: ircAdapter,
    hasMailbox: false,
    setupConcurrency: 8,
    unavailable: () => (which("ngircd") ? null : `ngircd is not installed (${IRC_INSTALL})`),
    start: async (o) => {
      const c = tls ? await benchCert(o.dir) : null;
      return withPort((port) => {
        const conf = join(o.dir, `ngircd-${port}.conf`);
        const motd = join(o.dir, "motd.txt");
        writeFileSync(motd, "bench\n");
        writeFileSync(
          conf,
          `[Global]
Name = bench.local
Info = termchat bench baseline
Listen = 127.0.0.1
Ports = ${c ? "" : port}
MotdFile = ${motd}
PidFile = ${join(o.dir, `ngircd-${port}.pid`)}
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 16
MaxPenaltyTime = 0
PingTimeout = 3600
PongTimeout = 3600
[Options]
DNS = no
Ident = no
PAM = no
ConnectIPv6 = no
` + (c ? `[SSL]\nCertFile = ${c.cert}\nKeyFile = ${c.key}\nPorts = ${port}\n` : ""),
        );
        return launch([which("ngircd")!, "--nodaemon", "--config", conf], port, o);
      });
    },
  };
}

/**
 * InspIRCd 3 with flood penalties, fakelag and connection limits off, no DNS
 * lookups. Over TLS: Debian's build ships m_ssl_gnutls (GnuTLS), an sslprofile
 * with the bench certificate on the clients' port.
 */
export function inspircd(transport: Transport): Target {
  const tls = transport === "tls";
  return {
    name: "inspircd",
    tls,
    column: columnOf("inspircd", transport),
    adapter: ircAdapter,
    hasMailbox: false,
    setupConcurrency: 500,
    unavailable: () => (which("inspircd") ? null : `inspircd is not installed (${IRC_INSTALL})`),
    start: async (o) => {
      const c = tls ? await benchCert(o.dir) : null;
      return withPort((port) => {
        const conf = join(o.dir, `inspircd-${port}.conf`);
        const ssl = c
          ? `<module name="ssl_gnutls">
<sslprofile name="bench" provider="gnutls" certfile="${c.cert}" keyfile="${c.key}" dhfile="" requestclientcert="no">
`
          : "";
        writeFileSync(
          conf,
          `<server name="bench.local" description="termchat bench baseline" network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
${ssl}<bind address="127.0.0.1" port="${port}" type="clients"${c ? ' sslprofile="bench"' : ""}>
<connect name="bench" allow="*" timeout="60" pingfreq="3600"
  threshold="4000000000" commandrate="4000000000" fakelag="no"
  softsendq="67108864" hardsendq="67108864" recvq="1048576"
  localmax="100000" globalmax="100000" limit="100000" maxconnwarn="no"
  maxchans="100" resolvehostnames="no" uniqueusername="no">
<path configdir="${o.dir}" datadir="${o.dir}" logdir="${o.dir}">
<pid file="${join(o.dir, `inspircd-${port}.pid`)}">
<performance softlimit="20000" somaxconn="4096" netbuffersize="65536" quietbursts="yes">
<options syntaxhints="no" announcets="no">
<security hideserver="" userstats="Pu" flatlinks="no" maxtargets="20">
<whowas groupsize="0" maxgroups="0" maxkeep="1">
<limits maxnick="30" maxchan="64" maxmodes="20" maxident="11" maxquit="255" maxtopic="307" maxkick="255" maxreal="128" maxgecos="128" maxaway="200">
`,
        );
        return launch([which("inspircd")!, "--nofork", "--runasroot", `--config=${conf}`], port, o);
      });
    },
  };
}
