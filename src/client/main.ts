/**
 * ./client <server_host> <server_port> [options]
 */
import { cac, fail, intArg, parseCli, setHelp, UsageError } from "../common/cli.ts";
import { systemClock } from "../common/clock.ts";
import { makeLogger } from "../common/logger.ts";
import { ClientApp } from "./app.ts";
import { COMMANDS } from "./commands.ts";
import { complete } from "./completion.ts";
import { filesDirFor, Sharing } from "./files/commands.ts";
import { Chat } from "./peer/chat.ts";
import { Peers } from "./peer/peers.ts";
import { PeerRouter } from "./peer/router.ts";
import { ServerSession, SessionError } from "./session.ts";
import { exitAfterFlush, Terminal } from "./terminal.ts";
import { T } from "./texts.ts";
import { knownServersPath, serverTrust } from "./trust.ts";
import { isFingerprint } from "../net/fingerprint.ts";

/** Every client timer runs on this clock (tests drive the same code with a manual one). */
const clock = systemClock;
const USAGE = "Usage: client <server_host> <server_port> [options]";

const cli = cac("client");
cli
  .command("<server_host> <server_port>", "Connect to a chat server and log in")
  .option("--files <dir>", "File-sharing folder (default: ./files/<username>)")
  .option("--fingerprint <SHA256:...>", "Accept only the server with this fingerprint (as it prints it); known_servers is not used")
  .option("--no-tls", "Plain TCP, for a server started with --no-tls (nothing is encrypted)")
  .option("--peer-port <port>", "Listen for other users' direct links on this port (default: any free port)")
  .option("--peer-advertise <port>", "The port other users should dial instead (a router forwarding it to --peer-port)")
  .option("--no-color", "No colours, even on a terminal (so does NO_COLOR=1)")
  .option("-d, --debug", "Debug log on stderr");
setHelp(cli, {
  summary: "terminal chat client (log in, message, chat privately, share files)",
  usage: USAGE,
  args: [
    ["server_host", "Name or IP address of the chat server"],
    ["server_port", "TCP port of the chat server (1-65535)"],
  ],
  examples: [
    ["client 127.0.0.1 4000", "log in to a server on this machine"],
    ["client chat.example.org 4000 --files ~/shared", "share and download files in ~/shared"],
    ["NO_COLOR=1 client 127.0.0.1 4000", "no colours"],
    ["printf 'hans\\nfalcon\\nwhoelse\\nlogout\\n' | client 127.0.0.1 4000", "scripted: one line in, one event out"],
  ],
  notes: [
    "After login type `help` for the commands. On a terminal: Tab completes commands",
    "and user names, Up/Down recall earlier lines, Ctrl-D logs out, Ctrl-C clears",
    "the line or (pressed twice) logs out. The password is never shown.",
  ],
});

const { args, options } = parseCli(cli, process.argv, USAGE);
let port: number;
let peerPortOption = 0;
/** The peer port given to the server (so to callers), when it is not the one we listen on. */
let advertisedPort: number | undefined;
try {
  port = intArg("server_port", args[1], 1, 65535);
  if (options.files !== undefined && typeof options.files !== "string") throw new UsageError("--files needs a value");
  peerPortOption = options.peerPort === undefined ? 0 : intArg("--peer-port", options.peerPort, 1, 65535);
  if (options.peerAdvertise !== undefined) advertisedPort = intArg("--peer-advertise", options.peerAdvertise, 1, 65535);
  if (options.fingerprint !== undefined && !isFingerprint(String(options.fingerprint))) throw new UsageError(T.badFingerprint);
  if (options.fingerprint !== undefined && options.tls === false) throw new UsageError("--fingerprint needs TLS (not --no-tls)");
} catch (e) {
  fail((e as Error).message, 2, USAGE);
}
const host = args[0]!;
// NO_COLOR counts when set and not empty (no-color.org).
const color = options.color !== false && !process.env.NO_COLOR;

const trust = options.tls === false ? null : serverTrust(host, port, options.fingerprint, knownServersPath());
let server: ServerSession;
try {
  server = await ServerSession.connect(host, port, clock, trust?.tls);
} catch (e) {
  connectFailed(e as SessionError);
}
// Shown on stderr, so stdout stays exactly the session a script expects.
if (trust?.outcome.notice) process.stderr.write(trust.outcome.notice + "\n");

function connectFailed(e: SessionError): never {
  const hostPort = `${host}:${port}`;
  const exact = (line: string): never => {
    process.stderr.write(line + "\n");
    process.exit(1);
  };
  if (trust?.outcome.refusal) exact(trust.outcome.refusal);
  if (e.code === "not_tls") exact(T.doesNotSpeakTls(hostPort));
  if (e.code === "requires_tls") exact(T.requiresTls(hostPort));
  const why = e.message;
  fail(why.startsWith("version") ? T.versionMismatch(why) : T.cannotConnect(host, port, why), 1);
}

let app: ClientApp | null = null;
const term: Terminal = new Terminal({
  color,
  clock,
  complete: (line): [string[], string] =>
    complete(line, {
      usages: COMMANDS,
      users: [...(app?.seenUsers ?? [])].filter((u) => u !== app?.user),
      sessions: peers.openSessions,
    }),
});
// Ctrl-C during login: quit at once, nothing is lost (after login: see below).
term.onQuit = () => quit(130);
// Killed, or the terminal window closed: log out properly if logged in.
process.on("SIGTERM", () => (app ? void app.logout() : quit(1)));
process.on("SIGHUP", () => {
  term.hangup();
  if (app) void app.logout();
  else quit(1);
});
const log = makeLogger(!!options.debug, "client");
// Last line of defence: a bug that escapes every handler is one line, never a stack trace.
const internal = (e: unknown) => {
  process.stderr.write(`client: internal error: ${(e as Error)?.message ?? e}\n`);
  log.debug(`internal error: ${(e as Error)?.stack ?? e}`);
};
process.on("uncaughtException", internal);
process.on("unhandledRejection", internal);
const peers: Peers = new Peers(new PeerRouter(log), log, clock);
/**
 * The peer identity (key + certificate, in memory only) is made while the user
 * types: `Username:` does not wait for it; the login does (its fingerprint goes with
 * it). The certificate library is loaded here too, off the path to the prompt
 * (measured: 5–10 ms less to the prompt, bench/README.md), reflect-metadata first and on its own: bundled
 * lazily, the library's own import of it came too late.
 */
async function listenForPeers(): Promise<number> {
  await import("reflect-metadata");
  const { createIdentity } = await import("../net/identity.ts");
  const identity = await createIdentity("termchat peer");
  let port: number;
  try {
    port = peers.listen(identity, peerPortOption);
  } catch (e) {
    fail(`cannot listen for peers: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 1);
  }
  log.debug(`peer listener on port ${port}, certificate ${identity.fingerprint}`);
  if (advertisedPort !== undefined) log.debug(`peer port given to the server: ${advertisedPort}`);
  return advertisedPort ?? port;
}
const peerReady = listenForPeers();
let loggingIn = true;
server.onClose = () => {
  if (!loggingIn) return;
  term.print(T.connectionLost, "error");
  exitAfterFlush(1);
};

async function login(): Promise<string | null> {
  for (;;) {
    const user = await term.nextLine(T.usernamePrompt);
    if (user === null) return null;
    for (;;) {
      const pass = await term.nextSecret(T.passwordPrompt);
      if (pass === null) return null;
      const code = await server.login(user.trim(), pass, await peerReady, peers.fingerprint ?? undefined);
      switch (code) {
        case "ok":
          term.print(T.welcome, "system");
          return user.trim();
        case "unknown_user":
          term.print(T.invalidUsername, "error");
          break;
        case "bad_password":
          term.print(T.invalidPassword, "error");
          continue;
        case "locked_now":
          term.print(T.lockedNow, "error");
          return fail1();
        case "blocked":
          term.print(T.blocked, "error");
          return fail1();
        case "already_online":
          term.print(T.alreadyOnline(user.trim()), "error");
          return fail1();
        case "busy":
          term.print(T.serverBusy, "error");
          break;
      }
      break; // unknown user: ask for the username again
    }
  }
}

/** Leave before logging in. */
function quit(code: number): void {
  loggingIn = false;
  server.close();
  term.close();
  exitAfterFlush(code);
}

function fail1(): null {
  loggingIn = false;
  term.close();
  exitAfterFlush(1);
  return null;
}

try {
  const user = await login();
  if (user === null) {
    if (loggingIn) quit(1); // end of input before logging in
  } else {
    loggingIn = false;
    app = new ClientApp(user, term, server, clock);
    peers.ready(user, server);
    app.peers = new Chat(peers, term);
    app.sharing = new Sharing(user, filesDirFor(user, options.files), term, server, peers, log, clock);
    // Logged in: Ctrl-C clears the line, or asks once more, then logs out (docs/terminal.md).
    term.onQuit = () => void app!.logout();
    term.confirmQuit = true;
    await app.run();
  }
} catch (e) {
  if (e instanceof SessionError) {
    term.print(T.connectionLost, "error");
    exitAfterFlush(1);
  } else {
    internal(e);
    exitAfterFlush(1);
  }
}
