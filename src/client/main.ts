/**
 * ./client <server_host> <server_port> [options]
 */
import { cac, fail, intArg, parseCli, UsageError } from "../common/cli.ts";
import { makeLogger } from "../common/logger.ts";
import { ClientApp } from "./app.ts";
import { COMMAND_NAMES } from "./commands.ts";
import { Peers } from "./peers.ts";
import { ServerSession, SessionError } from "./session.ts";
import { exitAfterFlush, Terminal } from "./terminal.ts";
import { T } from "./texts.ts";

const USAGE = "Usage: client <server_host> <server_port> [options]";

const cli = cac("client");
cli
  .command("<server_host> <server_port>", "Connect to a chat server and log in")
  .option("--files <dir>", "File-sharing folder (default: ./files/<username>)")
  .option("--no-color", "No colours, even on a terminal")
  .option("-d, --debug", "Debug log on stderr")
  .example("client 127.0.0.1 4000")
  .example("client chat.example.org 4000 --files ~/shared");
cli.help();

const { args, options } = parseCli(cli, process.argv, USAGE);
let port: number;
try {
  port = intArg("server_port", args[1], 1, 65535);
  if (options.files !== undefined && typeof options.files !== "string") throw new UsageError("--files needs a value");
} catch (e) {
  fail((e as Error).message, 2, USAGE);
}
const host = args[0]!;
const color = options.color !== false && process.env.NO_COLOR === undefined;

let server: ServerSession;
try {
  server = await ServerSession.connect(host, port);
} catch (e) {
  const why = (e as Error).message;
  fail(why.startsWith("version") ? T.versionMismatch(why) : T.cannotConnect(host, port, why), 1);
}

let app: ClientApp | null = null;
const term = new Terminal({
  color,
  complete: (line) => {
    const words = line.split(" ");
    if (words.length <= 1) return COMMAND_NAMES.filter((c) => c.startsWith(line));
    return [];
  },
});
const log = makeLogger(!!options.debug, "client");
const peers = new Peers(term, log);
let peerPort: number;
try {
  peerPort = peers.listen();
} catch (e) {
  fail(`cannot listen for peers: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 1);
}
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
      const code = await server.login(user.trim(), pass, peerPort);
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
      }
      break; // unknown user: ask for the username again
    }
  }
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
    if (loggingIn) {
      // End of input before logging in.
      loggingIn = false;
      server.close();
      term.close();
      exitAfterFlush(1);
    }
  } else {
    loggingIn = false;
    app = new ClientApp(user, term, server);
    peers.ready(user, server);
    app.peers = peers;
    await app.run();
  }
} catch (e) {
  if (e instanceof SessionError) {
    term.print(T.connectionLost, "error");
    exitAfterFlush(1);
  } else throw e;
}
