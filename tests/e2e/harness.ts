/**
 * End-to-end harness: starts the real compiled programs (./server, ./client) on
 * 127.0.0.1 with OS-chosen ports, types into the client's stdin and reads its
 * stdout line by line, as a person would. Every process started here is killed
 * by PID in `cleanup()` (call it from afterEach), even when a test fails.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

export const ROOT = join(import.meta.dir, "..", "..");
/** Where the compiled programs are (CHAT_BIN_DIR lets parallel work use its own build). */
export const BIN_DIR = process.env.CHAT_BIN_DIR ?? ROOT;
export const SERVER_BIN = join(BIN_DIR, "server");
export const CLIENT_BIN = join(BIN_DIR, "client");
export const CREDENTIALS = join(ROOT, "credentials.txt");

/** The shipped sample accounts. */
export const PASSWORDS: Record<string, string> = {
  hans: "falcon",
  yoda: "wise",
  luke: "jedi",
  vader: "darkside",
  r2d2: "beepboop",
};

function requireBinaries(): void {
  if (!existsSync(SERVER_BIN) || !existsSync(CLIENT_BIN)) {
    throw new Error("compiled ./server and ./client are missing: run `npm run build` first (npm test does)");
  }
}

const live = new Set<Subprocess>();
const tempDirs: string[] = [];

/** Kill every process this harness started and remove temp folders. */
export async function cleanup(): Promise<void> {
  for (const p of live) {
    if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  }
  await Promise.all([...live].map((p) => p.exited));
  live.clear();
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function tempDir(prefix = "chat-e2e-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

/** Reads a child's stream line by line, with deadlines. */
export class Lines {
  private buf = "";
  private lines: string[] = [];
  private done = false;
  private wake: (() => void) | null = null;
  /** Every line consumed so far, for error messages and negative checks. */
  readonly seen: string[] = [];

  constructor(stream: ReadableStream<Uint8Array>) {
    void (async () => {
      const dec = new TextDecoder();
      for await (const chunk of stream) {
        this.buf += dec.decode(chunk, { stream: true });
        let i: number;
        while ((i = this.buf.indexOf("\n")) >= 0) {
          this.lines.push(this.buf.slice(0, i));
          this.buf = this.buf.slice(i + 1);
        }
        this.wake?.();
      }
      if (this.buf) this.lines.push(this.buf);
      this.done = true;
      this.wake?.();
    })();
  }

  /** Wait for a line matching `want` (string: exact line); lines before it are consumed. */
  async waitFor(want: RegExp | string, ms = 5000): Promise<string> {
    const match = (l: string) => (typeof want === "string" ? l === want : want.test(l));
    const deadline = Date.now() + ms;
    for (;;) {
      while (this.lines.length) {
        const l = this.lines.shift()!;
        this.seen.push(l);
        if (match(l)) return l;
      }
      if (this.done) throw new Error(`EOF before ${want}; saw:\n${this.seen.join("\n")}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for ${want}; saw:\n${this.seen.join("\n")}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  /** Lines that arrive within `ms` (consumed). For asserting that nothing more is shown. */
  async drain(ms = 300): Promise<string[]> {
    await Bun.sleep(ms);
    const got = this.lines.splice(0);
    this.seen.push(...got);
    return got;
  }

  /** Everything until end of stream. */
  async rest(ms = 5000): Promise<string[]> {
    const deadline = Date.now() + ms;
    while (!this.done && Date.now() < deadline) await Bun.sleep(20);
    const got = this.lines.splice(0);
    this.seen.push(...got);
    return got;
  }
}

export async function freePort(): Promise<number> {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  return port;
}

export type ServerProc = { port: number; proc: Subprocess<"ignore", "pipe", "pipe">; log: Lines; out: Lines };

/** Start ./server on a free port (with -d so we see when it listens). */
export async function startServer(
  opts: { block?: number; timeout?: number; store?: string; extra?: string[]; port?: number; credentials?: string; env?: Record<string, string> } = {},
): Promise<ServerProc> {
  requireBinaries();
  // Its TLS identity in a folder of its own (not the repository), unless the test says where.
  const extra = opts.extra ?? [];
  const ownIdentity = ["--identity", "--tls-cert", "--no-tls"].some((o) => extra.includes(o));
  const identity = ownIdentity ? [] : ["--identity", join(tempDir("chat-server-"), "server-identity.pem")];
  for (let attempt = 0; ; attempt++) {
    const port = opts.port ?? (await freePort());
    const proc = Bun.spawn(
      [
        SERVER_BIN, String(port), String(opts.block ?? 2), String(opts.timeout ?? 30),
        "-d", "--host", "127.0.0.1", "--credentials", opts.credentials ?? CREDENTIALS, "--store", opts.store ?? ":memory:",
        ...identity,
        ...extra,
      ],
      { stdin: "ignore", stdout: "pipe", stderr: "pipe", cwd: ROOT, env: { ...process.env, ...opts.env } },
    );
    live.add(proc);
    const log = new Lines(proc.stderr);
    const out = new Lines(proc.stdout);
    try {
      await log.waitFor(/listening on/, 10_000);
      return { port, proc, log, out };
    } catch (e) {
      // Another process may have taken the port between freePort() and bind: retry.
      if (attempt < 3 && opts.port === undefined && (await proc.exited) === 1) continue;
      throw e;
    }
  }
}

export type ClientProc = {
  proc: Subprocess<"pipe", "pipe", "pipe">;
  /** Its working folder, also its HOME (XDG_CONFIG_HOME is its .config). */
  home: string;
  out: Lines;
  err: Lines;
  send(line: string): void;
  /** Close stdin (end of input). */
  endInput(): void;
};

export function startClient(port: number, extra: string[] = [], env: Record<string, string> = {}): ClientProc {
  requireBinaries();
  const home = tempDir("chat-client-");
  const proc = Bun.spawn([CLIENT_BIN, "127.0.0.1", String(port), ...extra], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    cwd: home,
    // Its own home: known_servers (trust on first use) is written there, never in the real one.
    env: { ...process.env, NO_COLOR: "1", HOME: home, XDG_CONFIG_HOME: join(home, ".config"), ...env },
  });
  live.add(proc);
  return {
    proc,
    home,
    out: new Lines(proc.stdout),
    err: new Lines(proc.stderr),
    send(line: string) {
      proc.stdin.write(line + "\n");
      proc.stdin.flush();
    },
    endInput() {
      proc.stdin.end();
    },
  };
}

// Logging in, as a person does at the client's prompts. Every end-to-end test logs its
// clients in through these, so the login steps are written once.

export const WELCOME = "Welcome to the greatest messaging application ever!";

/** At the client's prompts, type `user` and a password (the right one unless given); no waiting for the result. */
export async function typeCredentials(c: ClientProc, user: string, pass = PASSWORDS[user]!): Promise<void> {
  await c.out.waitFor("Username:");
  c.send(user);
  await c.out.waitFor("Password:");
  c.send(pass);
}

/** Start a client and type a username and password; returns the client (no waiting for the result). */
export async function typeLogin(port: number, user: string, pass = PASSWORDS[user]!): Promise<ClientProc> {
  const c = startClient(port);
  await typeCredentials(c, user, pass);
  return c;
}

/** Start a client and log `user` in with the right password; resolves after the welcome line. */
export async function loginClient(port: number, user: string, extra: string[] = [], env: Record<string, string> = {}): Promise<ClientProc> {
  const c = startClient(port, extra, env);
  await typeCredentials(c, user);
  await c.out.waitFor(WELCOME);
  return c;
}

/**
 * Log the given users in, one after another, and consume the `X logged in` lines each
 * earlier client shows for the later ones, so every client starts with a quiet screen.
 * Users in `debug` run with -d (their stderr log shows, e.g., their peer port).
 */
export async function loginAll<U extends string>(port: number, users: U[], debug: U[] = []): Promise<Record<U, ClientProc>> {
  const cs = {} as Record<U, ClientProc>;
  const earlier: U[] = [];
  for (const u of users) {
    const c = await loginClient(port, u, debug.includes(u) ? ["-d"] : []);
    for (const e of earlier) await cs[e].out.waitFor(`${u} logged in`);
    cs[u] = c;
    earlier.push(u);
  }
  return cs;
}

/** Run a command-line program to completion and collect its output. */
export async function runToEnd(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  // A home of its own unless told (a client run here must not write the real known_servers).
  const home = tempDir("chat-run-");
  const env = opts.env ?? { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, ".config") };
  const proc = Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe", cwd: opts.cwd ?? ROOT, env });
  live.add(proc);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}
