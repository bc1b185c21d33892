/**
 * The command table: names, usage lines, help lines and argument shapes in one
 * place. `parseCommand` turns a typed line into a typed command or an error text;
 * `help` and the `Error. Usage: …` lines are generated from the same table.
 * Pure: no I/O.
 */
import { MAX_CHUNKS } from "../protocol/files.ts";
import { MAX_TEXT_BYTES, textBytes } from "../protocol/messages.ts";
import { T } from "./texts.ts";

type Spec = {
  usage: string;
  help: string;
  /** Words before the free text (or all words when there is no text). */
  words: number;
  /** Optional extra words allowed after the required ones (when no text). */
  extra?: number;
  /** The rest of the line after `words` is one free text (required). */
  text?: boolean;
};

export const COMMANDS = {
  message: { usage: "message <user> <text>", help: "send <text> to <user> (stored if they are offline)", words: 1, text: true },
  broadcast: { usage: "broadcast <text>", help: "send <text> to everyone online", words: 0, text: true },
  whoelse: { usage: "whoelse", help: "list the other users online", words: 0 },
  whoelsesince: { usage: "whoelsesince <time>", help: "list users online in the last <time> seconds", words: 1 },
  block: { usage: "block <user>", help: "stop <user> from messaging you or seeing you online", words: 1 },
  unblock: { usage: "unblock <user>", help: "undo a block", words: 1 },
  startprivate: { usage: "startprivate <user>", help: "open a direct connection to <user>", words: 1 },
  private: { usage: "private <user> <text>", help: "send <text> to <user> over the direct connection", words: 1, text: true },
  stopprivate: { usage: "stopprivate <user>", help: "close the direct connection to <user>", words: 1 },
  register: { usage: "register <path> [chunks]", help: `share a file, split into [chunks] pieces (default 10, at most ${MAX_CHUNKS})`, words: 1, extra: 1 },
  searchFile: { usage: "searchFile <name>", help: "list the users who hold chunks of <name>", words: 1 },
  searchChunk: { usage: "searchChunk <name> <c1> [c2 ...]", help: "list the users who hold each of these chunks of <name>", words: 2, extra: MAX_CHUNKS - 1 },
  download: {
    usage: "download <name>",
    help: "fetch <name> from all its holders at once (one chunk: private <user> download <name> <chunk>)",
    words: 1,
  },
  help: { usage: "help [command]", help: "list the commands, or explain one", words: 0, extra: 1 },
  logout: { usage: "logout", help: "log out and quit", words: 0 },
} as const satisfies Record<string, Spec>;

export type CommandName = keyof typeof COMMANDS;
export const COMMAND_NAMES = Object.keys(COMMANDS) as CommandName[];

export type Command =
  | { name: "message"; user: string; text: string }
  | { name: "broadcast"; text: string }
  | { name: "whoelse" }
  | { name: "whoelsesince"; seconds: number }
  | { name: "block"; user: string }
  | { name: "unblock"; user: string }
  | { name: "startprivate"; user: string }
  | { name: "private"; user: string; text: string }
  | { name: "stopprivate"; user: string }
  | { name: "register"; path: string; chunks?: number }
  | { name: "searchFile"; file: string }
  | { name: "searchChunk"; file: string; chunks: number[] }
  | { name: "download"; file: string }
  | { name: "privateDownload"; user: string; file: string; chunk: number }
  | { name: "help"; topic?: string }
  | { name: "logout" };

/** A parsed line: a command, nothing (blank line), or an error text to show. */
export type Parsed = { ok: true; cmd: Command } | { ok: false; error: string } | null;

const isCommand = (w: string): w is CommandName => Object.hasOwn(COMMANDS, w);

export function parseCommand(line: string): Parsed {
  const trimmed = line.trim();
  if (trimmed === "") return null;
  const name = trimmed.split(/\s+/, 1)[0]!;
  if (!isCommand(name)) return { ok: false, error: T.invalidCommand };
  const spec: Spec = COMMANDS[name];
  const usage = { ok: false, error: T.usage(spec.usage) } as const;
  const args = splitArgs(spec, trimmed.slice(name.length).trimStart());
  if (args === null) return usage;
  if (typeof args === "string") return { ok: false, error: args };
  return build(name, args.words, args.text, usage);
}

/** The words a command takes, then its text (or its optional extra words); null: usage error. */
function splitArgs(spec: Spec, rest: string): { words: string[]; text: string } | string | null {
  const words: string[] = [];
  for (let i = 0; i < spec.words; i++) {
    const m = /^(\S+)\s*/.exec(rest);
    if (!m) return null;
    words.push(m[1]!);
    rest = rest.slice(m[0].length);
  }
  if (spec.text) {
    if (rest === "") return null;
    if (textBytes(rest) > MAX_TEXT_BYTES) return T.tooLong;
    return { words, text: rest };
  }
  const extra = rest === "" ? [] : rest.split(/\s+/);
  if (extra.length > (spec.extra ?? 0)) return null;
  return { words: [...words, ...extra], text: "" };
}

/** The command from its checked words and text. */
function build(name: CommandName, words: string[], text: string, usage: Parsed): Parsed {
  const [a] = words;
  if (name === "private") {
    // `private <user> download <name> <chunk>` fetches a chunk (behaviour.md §6); any other text is a message.
    const dl = /^download\s+(\S+)\s+(\d+)$/.exec(text);
    if (dl && Number.isSafeInteger(Number(dl[2]))) {
      return { ok: true, cmd: { name: "privateDownload", user: a!, file: dl[1]!, chunk: Number(dl[2]) } };
    }
  }
  switch (name) {
    case "message":
    case "private":
      return { ok: true, cmd: { name, user: a!, text } };
    case "broadcast":
      return { ok: true, cmd: { name, text } };
    case "whoelsesince":
      if (!/^\d+$/.test(a!) || !Number.isSafeInteger(Number(a))) return usage;
      return { ok: true, cmd: { name, seconds: Number(a) } };
    case "block":
    case "unblock":
    case "startprivate":
    case "stopprivate":
      return { ok: true, cmd: { name, user: a! } };
    case "help":
      return { ok: true, cmd: { name, topic: a } };
    case "whoelse":
    case "logout":
      return { ok: true, cmd: { name } };
    case "register": {
      const chunks = words[1];
      if (chunks === undefined) return { ok: true, cmd: { name, path: a! } };
      if (!/^\d+$/.test(chunks) || Number(chunks) < 1 || Number(chunks) > MAX_CHUNKS) return usage;
      return { ok: true, cmd: { name, path: a!, chunks: Number(chunks) } };
    }
    case "searchFile":
    case "download":
      return { ok: true, cmd: { name, file: a! } };
    case "searchChunk": {
      const nums = words.slice(1);
      if (!nums.every((w) => /^\d+$/.test(w) && Number(w) >= 1 && Number.isSafeInteger(Number(w)))) return usage;
      return { ok: true, cmd: { name, file: a!, chunks: nums.map(Number) } };
    }
  }
}

/**
 * The help text: every command with one line, or one command in detail. On a
 * terminal (`tty`) the list ends with the keys that help (docs/terminal.md).
 */
export function helpText(topic?: string, tty = false): string[] {
  if (topic !== undefined) {
    if (!isCommand(topic)) return [T.invalidCommand];
    const s = COMMANDS[topic];
    return [`${s.usage}`, `  ${s.help}`];
  }
  const width = Math.max(...COMMAND_NAMES.map((n) => COMMANDS[n].usage.length));
  const list = ["Commands:", ...COMMAND_NAMES.map((n) => `  ${COMMANDS[n].usage.padEnd(width)}  ${COMMANDS[n].help}`)];
  if (!tty) return list;
  return [
    ...list,
    "Type help <command> for one command. Keys: Tab completes commands and user names,",
    "Up/Down recall earlier lines, Ctrl-C clears the line (twice on an empty line: log out),",
    "Ctrl-D on an empty line logs out.",
  ];
}
