/**
 * Tab completion for the command prompt. Pure: the caller passes what is known.
 *
 * - first word: command names;
 * - `help <command>`: command names;
 * - a `<user>` argument (as the command's usage line says): the users this client
 *   has seen (whoelse replies, presence notices, messages), or for `private` and
 *   `stopprivate` the open peer sessions.
 * A single match gets a trailing space, so typing can go on; several are listed
 * by readline on a second Tab, after their common prefix is filled in.
 */

export type CompletionSources = {
  /** Command name → its usage line (`message <user> <text>`). */
  usages: Readonly<Record<string, { usage: string }>>;
  /** Users this client knows of. */
  users: Iterable<string>;
  /** Users with an open private session. */
  sessions: Iterable<string>;
};

/** Commands whose `<user>` must already have a private session. */
const SESSION_COMMANDS = new Set(["private", "stopprivate"]);

/** Candidates for the word before the cursor, and that word (readline's completer shape). */
export function complete(line: string, src: CompletionSources): [string[], string] {
  const words = line.trimStart().split(/\s+/);
  const word = words[words.length - 1] ?? "";
  let pool: Iterable<string>;
  if (words.length === 1) pool = Object.keys(src.usages);
  else if (words.length === 2) {
    const cmd = words[0]!;
    const usage = Object.hasOwn(src.usages, cmd) ? src.usages[cmd]!.usage : "";
    if (cmd === "help") pool = Object.keys(src.usages);
    else if (usage.split(" ")[1] === "<user>") pool = SESSION_COMMANDS.has(cmd) ? src.sessions : src.users;
    else pool = [];
  } else pool = [];
  const hits = [...new Set(pool)].filter((c) => c.startsWith(word)).sort();
  return [hits.length === 1 ? [hits[0] + " "] : hits, word];
}
