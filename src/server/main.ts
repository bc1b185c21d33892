/**
 * ./server <server_port> <block_duration> <timeout> [options]
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { systemClock } from "../common/clock.ts";
import { cac, fail, intArg, parseCli, UsageError } from "../common/cli.ts";
import { makeLogger } from "../common/logger.ts";
import { parseCredentials } from "./accounts.ts";
import { DEFAULT_LIMITS } from "./hub.ts";
import { ChatServer } from "./server.ts";
import { sqliteStore } from "./sqlite-store.ts";
import { memoryStore, type Store } from "./store.ts";

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
  .example("server 4000 60 120")
  .example("server 4000 60 120 -d --store /var/lib/chat.sqlite");
cli.help();

const { args, options } = parseCli(cli, process.argv, USAGE);
let port: number, blockSec: number, timeoutSec: number;
try {
  port = intArg("server_port", args[0], 1, 65535);
  blockSec = intArg("block_duration", args[1], 1, 1_000_000);
  timeoutSec = intArg("timeout", args[2], 1, 1_000_000);
  for (const k of ["credentials", "host", "store"]) {
    if (options[k] !== undefined && typeof options[k] !== "string") throw new UsageError(`--${k} needs a value`);
  }
} catch (e) {
  fail((e as Error).message, 2, USAGE);
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
try {
  store = options.store === ":memory:" ? memoryStore() : sqliteStore(options.store);
} catch (e) {
  fail(`cannot open store ${options.store}: ${(e as Error).message}`, 1);
}

const server = new ChatServer({
  host: options.host,
  port,
  users,
  store,
  clock: systemClock,
  log,
  hub: { blockMs: blockSec * 1000, timeoutMs: timeoutSec * 1000, ...DEFAULT_LIMITS },
});
try {
  const bound = server.start();
  log.debug(`listening on ${options.host}:${bound} (${users.size} users, store ${options.store})`);
} catch (e) {
  const code = (e as NodeJS.ErrnoException).code;
  fail(code === "EADDRINUSE" ? `port ${port} is already in use` : `cannot listen on port ${port}: ${code ?? (e as Error).message}`, 1);
}

const shutdown = () => {
  log.debug("shutting down");
  server.stop();
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
