/**
 * ./server <server_port> <block_duration> <timeout> [options]
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { systemClock } from "../common/clock.ts";
import { cac, fail, intArg, parseCli, setHelp, UsageError } from "../common/cli.ts";
import { makeLogger } from "../common/logger.ts";
import { parseCredentials } from "./accounts.ts";
import { DEFAULT_ADMISSION } from "./admission.ts";
import { IdentityError, loadCertAndKey, loadOrCreateIdentity, type Identity } from "../net/identity.ts";
import { hashPasswordAndExit } from "./hash-password.ts";
import { DEFAULT_LIMITS } from "./hub.ts";
import { ChatServer } from "./server.ts";
import { sqliteStore } from "./sqlite-store.ts";
import { memoryStore, type Store } from "./store.ts";
import { attachHub, busRouter, openRedisState, type RedisState } from "./redis/open.ts";
import { RedisBadUrl, RedisConnectFailed, redactUrl } from "./cluster/errors.ts";

const USAGE = "Usage: server <server_port> <block_duration> <timeout> [options]";

const cli = cac("server");
cli
  .command("<server_port> <block_duration> <timeout>", "Start the chat server")
  .option("-d, --debug", "Debug log on stderr")
  .option("--credentials <file>", "Credentials file (default: credentials.txt here, else beside the program)")
  .option("--host <addr>", "Address to listen on", { default: "0.0.0.0" })
  .option("--store <file>", "Durable state (offline messages, blocks); :memory: keeps nothing", {
    default: "./server-data.sqlite",
  })
  .option("--login-timeout <seconds>", "Close a connection that has not logged in after this long", {
    default: DEFAULT_LIMITS.preLoginMs / 1000,
  })
  .option("--max-prelogin-per-address <n>", "Connections not yet logged in allowed from one address", {
    default: DEFAULT_ADMISSION.perAddress,
  })
  .option("--max-prelogin <n>", "Connections not yet logged in allowed in all", { default: DEFAULT_ADMISSION.total })
  .option("--redis <url>", "Share state with the other servers on this Redis (a cluster; --store is then not used)")
  .option("--identity <file>", "The server's TLS key and certificate, created on first start", {
    default: "./server-identity.pem",
  })
  .option("--tls-cert <file>", "Use this certificate (PEM, e.g. from a CA) instead of the identity file")
  .option("--tls-key <file>", "The private key of --tls-cert (PEM)")
  .option("--no-tls", "Serve plain TCP (no encryption)")
  .option("--hash-password", "Read one password from stdin, print its hash for the credentials file, and exit");
setHelp(cli, {
  summary: "terminal chat server (accounts, messages, presence, peer-to-peer and file sharing)",
  usage: USAGE,
  args: [
    ["server_port", "TCP port to listen on (1-65535)"],
    ["block_duration", "Seconds an account stays blocked after 3 wrong passwords"],
    ["timeout", "Seconds without a command before a user is logged out"],
  ],
  examples: [
    ["server 4000 60 120", "port 4000, 60 s block, 120 s timeout"],
    ["server 4000 60 120 -d --store /var/lib/chat.sqlite", "debug log on stderr, state kept in that file"],
    ["server 4000 10 30 --host 127.0.0.1 --store :memory:", "this machine only, nothing kept"],
    ["server 4000 60 120 --redis redis://10.0.0.5:6379", "one server of a cluster sharing that Redis"],
    ["server --hash-password", "type a password: prints the line to put after the user name in credentials.txt"],
  ],
});

if (process.argv.includes("--hash-password")) await hashPasswordAndExit();

const { args, options } = parseCli(cli, process.argv, USAGE);
let port: number, blockSec: number, timeoutSec: number, loginSec: number, perAddress: number, preloginTotal: number;
try {
  port = intArg("server_port", args[0], 1, 65535);
  blockSec = intArg("block_duration", args[1], 1, 1_000_000);
  timeoutSec = intArg("timeout", args[2], 1, 1_000_000);
  loginSec = intArg("--login-timeout", options.loginTimeout, 1, 1_000_000);
  perAddress = intArg("--max-prelogin-per-address", options.maxPreloginPerAddress, 1, 1_000_000);
  preloginTotal = intArg("--max-prelogin", options.maxPrelogin, 1, 1_000_000);
  for (const k of ["credentials", "host", "store", "redis", "identity", "tlsCert", "tlsKey"]) {
    if (options[k] !== undefined && typeof options[k] !== "string") throw new UsageError(`--${flagName(k)} needs a value`);
  }
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
  if (options.tls === false && options.tlsCert !== undefined) throw new UsageError("--no-tls and --tls-cert exclude each other");
} catch (e) {
  fail((e as Error).message, 2, USAGE);
}

function flagName(k: string): string {
  return k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

const log = makeLogger(!!options.debug, "server");

function credentialsPath(): string {
  if (options.credentials) return options.credentials;
  const here = "credentials.txt";
  if (existsSync(here)) return here;
  return join(dirname(process.execPath), "credentials.txt");
}

const credFile = credentialsPath();
let credText: string;
try {
  credText = readFileSync(credFile, "utf8");
} catch (e) {
  fail(`cannot read credentials file ${credFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 1);
}
const { users, warnings } = parseCredentials(credText);
for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
if (users.size === 0) fail(`no users in credentials file ${credFile}`, 1);

let store: Store;
let cluster: RedisState | undefined;
if (options.redis !== undefined) {
  try {
    cluster = await openRedisState(options.redis, systemClock, blockSec * 1000, log, clusterTimes());
    store = cluster.store;
  } catch (e) {
    if (e instanceof RedisBadUrl) fail(e.message, 2, USAGE);
    fail(e instanceof RedisConnectFailed ? e.message : `cannot use Redis at ${redactUrl(options.redis)}: ${(e as Error).message}`, 1);
  }
} else {
  try {
    store = options.store === ":memory:" ? memoryStore() : sqliteStore(options.store);
  } catch (e) {
    fail(`cannot open store ${options.store}: ${(e as Error).message}`, 1);
  }
}

/**
 * The cluster's heartbeat times (ms) from CHAT_CLUSTER_TIMES, e.g.
 * "beatMs=200,ttlMs=1000,scanMs=200,graceMs=500": only tests shorten them.
 */
function clusterTimes(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (process.env.CHAT_CLUSTER_TIMES ?? "").split(",")) {
    const [k, v] = part.split("=");
    if (k && v && /^\d+$/.test(v)) out[k.trim()] = Number(v);
  }
  return out;
}

let identity: Identity | undefined;
try {
  identity = options.tls === false ? undefined : await serverIdentity();
} catch (e) {
  fail(e instanceof IdentityError ? e.message : `cannot load the TLS identity: ${(e as Error).message}`, 1);
}

async function serverIdentity(): Promise<Identity> {
  if (options.tlsCert !== undefined) return loadCertAndKey(options.tlsCert, options.tlsKey);
  const { identity, created } = await loadOrCreateIdentity(options.identity);
  log.debug(created ? `created the identity ${options.identity}` : `identity from ${options.identity}`);
  return identity;
}

const server = new ChatServer({
  host: options.host,
  port,
  users,
  store,
  clock: systemClock,
  log,
  hub: { blockMs: blockSec * 1000, timeoutMs: timeoutSec * 1000, ...DEFAULT_LIMITS, preLoginMs: loginSec * 1000 },
  admission: { perAddress, total: preloginTotal },
  ...(cluster ? { shared: cluster.shared, node: cluster.bus.nodeId, router: busRouter(cluster.bus) } : {}),
  tls: identity,
});
if (cluster) {
  attachHub(cluster.bus, cluster.link, server.hub, () => {
    process.stderr.write("server: the cluster declared this server dead (Redis unreachable too long); its users were logged out; exiting\n");
    process.exit(1);
  });
}
try {
  const bound = server.start();
  const where = cluster ? `Redis ${redactUrl(options.redis)}, node ${cluster.bus.nodeId}` : `store ${options.store}`;
  log.debug(`listening on ${options.host}:${bound} (${users.size} users, ${where})`);
  // The one line on stdout (behaviour.md §10): people compare this fingerprint with what clients show.
  process.stdout.write(`Listening on ${options.host}:${bound} (${identity ? `TLS, fingerprint ${identity.fingerprint}` : "no TLS"})\n`);
} catch (e) {
  const code = (e as NodeJS.ErrnoException).code;
  fail(code === "EADDRINUSE" ? `port ${port} is already in use` : `cannot listen on port ${port}: ${code ?? (e as Error).message}`, 1);
}

// Last line of defence (errors are values for users, exceptions for bugs, and one
// connection never ends the process; docs/design.md): a bug on one connection's path that
// escapes every handler is reported, and the server goes on serving the others.
process.on("uncaughtException", (e) => {
  process.stderr.write(`server: internal error: ${e?.message ?? e}\n`);
  log.debug(`internal error: ${e?.stack ?? e}`);
});
process.on("unhandledRejection", (e) => {
  process.stderr.write(`server: internal error: ${(e as Error)?.message ?? e}\n`);
  log.debug(`internal error: ${(e as Error)?.stack ?? e}`);
});

const shutdown = () => {
  log.debug("shutting down");
  server.stop();
  if (!cluster) process.exit(0);
  // Leave the cluster on purpose: the others log this server's users out at once.
  const bus = cluster.bus;
  void Promise.race([bus.stop().catch(() => {}), Bun.sleep(2000)]).finally(() => process.exit(0));
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
