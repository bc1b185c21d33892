/**
 * The command table: names, usage lines, help lines and argument shapes in one
 * place. `parseCommand` turns a typed line into a typed command or an error text;
 * `help` and the `Error. Usage: …` lines are generated from the same table.
 * Pure: no I/O.
 */
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
  let rest = trimmed.slice(name.length).trimStart();
  const words: string[] = [];
  for (let i = 0; i < spec.words; i++) {
    const m = /^(\S+)\s*/.exec(rest);
    if (!m) return usage;
    words.push(m[1]!);
    rest = rest.slice(m[0].length);
  }
  let text = "";
  if (spec.text) {
    if (rest === "") return usage;
    text = rest;
    if (textBytes(text) > MAX_TEXT_BYTES) return { ok: false, error: T.tooLong };
  } else {
    const extra = rest === "" ? [] : rest.split(/\s+/);
    if (extra.length > (spec.extra ?? 0)) return usage;
    words.push(...extra);
  }
  const [a] = words;
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
  }
}

/** The help text: every command with one line, or one command in detail. */
export function helpText(topic?: string): string[] {
  if (topic !== undefined) {
    if (!isCommand(topic)) return [T.invalidCommand];
    const s = COMMANDS[topic];
    return [`${s.usage}`, `  ${s.help}`];
  }
  const width = Math.max(...COMMAND_NAMES.map((n) => COMMANDS[n].usage.length));
  return ["Commands:", ...COMMAND_NAMES.map((n) => `  ${COMMANDS[n].usage.padEnd(width)}  ${COMMANDS[n].help}`)];
}
