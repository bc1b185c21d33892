/**
 * The client's command parser (parseCommand): every command parsed into its fields,
 * every usage error with its exact text, white space, unknown commands, blank lines
 * and the numeric arguments. The texts are spelled out here on purpose (not imported
 * from src/client/texts.ts): the tests pin the wording users see (behaviour.md §4 and §6).
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type Command, helpText, type Parsed, parseCommand } from "../../src/client/commands.ts";
import { MAX_CHUNKS } from "../../src/protocol/files.ts";

const INVALID = "Error. Invalid command";
const TOO_LONG = "Error. Message too long";
const USAGE = {
  message: "Error. Usage: message <user> <text>",
  broadcast: "Error. Usage: broadcast <text>",
  whoelse: "Error. Usage: whoelse",
  whoelsesince: "Error. Usage: whoelsesince <time>",
  block: "Error. Usage: block <user>",
  unblock: "Error. Usage: unblock <user>",
  startprivate: "Error. Usage: startprivate <user>",
  private: "Error. Usage: private <user> <text>",
  stopprivate: "Error. Usage: stopprivate <user>",
  register: "Error. Usage: register <path> [chunks]",
  searchFile: "Error. Usage: searchFile <name>",
  searchChunk: "Error. Usage: searchChunk <name> <c1> [c2 ...]",
  download: "Error. Usage: download <name>",
  help: "Error. Usage: help [command]",
  logout: "Error. Usage: logout",
};

const ok = (cmd: Command): Parsed => ({ ok: true, cmd });
const err = (error: string): Parsed => ({ ok: false, error });
/** `n` chunk numbers 1..n, as typed. */
const numbers = (n: number) => Array.from({ length: n }, (_, i) => String(i + 1)).join(" ");

describe("parseCommand: every command", () => {
  const cases: [string, Command][] = [
    ["message luke hello there", { name: "message", user: "luke", text: "hello there" }],
    ["broadcast hello all", { name: "broadcast", text: "hello all" }],
    ["whoelse", { name: "whoelse" }],
    ["whoelsesince 60", { name: "whoelsesince", seconds: 60 }],
    ["block yoda", { name: "block", user: "yoda" }],
    ["unblock yoda", { name: "unblock", user: "yoda" }],
    ["startprivate luke", { name: "startprivate", user: "luke" }],
    ["private luke just us", { name: "private", user: "luke", text: "just us" }],
    ["stopprivate luke", { name: "stopprivate", user: "luke" }],
    ["register song.mp3", { name: "register", path: "song.mp3" }],
    ["register ../music/song.mp3 4", { name: "register", path: "../music/song.mp3", chunks: 4 }],
    ["searchFile song.mp3", { name: "searchFile", file: "song.mp3" }],
    ["searchChunk song.mp3 3", { name: "searchChunk", file: "song.mp3", chunks: [3] }],
    ["searchChunk song.mp3 1 5 2", { name: "searchChunk", file: "song.mp3", chunks: [1, 5, 2] }],
    ["download song.mp3", { name: "download", file: "song.mp3" }],
    ["private hans download song.mp3 7", { name: "privateDownload", user: "hans", file: "song.mp3", chunk: 7 }],
    ["help", { name: "help" }],
    ["help register", { name: "help", topic: "register" }],
    ["logout", { name: "logout" }],
  ];
  for (const [line, cmd] of cases) {
    test(JSON.stringify(line), () => {
      expect(parseCommand(line)).toEqual(ok(cmd));
    });
  }

  test("the table above covers every command name", () => {
    const names = new Set<string>(cases.map(([, c]) => (c.name === "privateDownload" ? "private" : c.name)));
    expect([...names].sort()).toEqual(Object.keys(USAGE).sort());
  });
});

describe("parseCommand: missing arguments give the command's usage line", () => {
  const cases: [string, string][] = [
    ["message", USAGE.message],
    ["message luke", USAGE.message],
    ["broadcast", USAGE.broadcast],
    ["whoelsesince", USAGE.whoelsesince],
    ["block", USAGE.block],
    ["unblock", USAGE.unblock],
    ["startprivate", USAGE.startprivate],
    ["private", USAGE.private],
    ["private luke", USAGE.private],
    ["stopprivate", USAGE.stopprivate],
    ["register", USAGE.register],
    ["searchFile", USAGE.searchFile],
    ["searchChunk", USAGE.searchChunk],
    ["searchChunk song.mp3", USAGE.searchChunk],
    ["download", USAGE.download],
  ];
  for (const [line, error] of cases) {
    test(JSON.stringify(line), () => {
      expect(parseCommand(line)).toEqual(err(error));
    });
  }

  test("white space alone is not an argument", () => {
    expect(parseCommand("message luke    ")).toEqual(err(USAGE.message));
    expect(parseCommand("message \t ")).toEqual(err(USAGE.message));
    expect(parseCommand("broadcast   ")).toEqual(err(USAGE.broadcast));
    expect(parseCommand("private luke \t")).toEqual(err(USAGE.private));
    expect(parseCommand("block   ")).toEqual(err(USAGE.block));
    expect(parseCommand("searchChunk song.mp3   ")).toEqual(err(USAGE.searchChunk));
  });
});

describe("parseCommand: too many words give the usage line", () => {
  const cases: [string, string][] = [
    ["whoelse now", USAGE.whoelse],
    ["whoelsesince 5 6", USAGE.whoelsesince],
    ["block yoda luke", USAGE.block],
    ["unblock yoda luke", USAGE.unblock],
    ["startprivate luke yoda", USAGE.startprivate],
    ["stopprivate luke yoda", USAGE.stopprivate],
    ["register a.txt 5 6", USAGE.register],
    ["searchFile my song.mp3", USAGE.searchFile],
    ["download my song.mp3", USAGE.download],
    ["help message broadcast", USAGE.help],
    ["logout now", USAGE.logout],
  ];
  for (const [line, error] of cases) {
    test(JSON.stringify(line), () => {
      expect(parseCommand(line)).toEqual(err(error));
    });
  }
});

describe("parseCommand: unknown commands and blank lines", () => {
  test("a blank line is nothing at all (no error, no command)", () => {
    for (const line of ["", " ", "   ", "\t", " \t \t "]) expect(parseCommand(line)).toBeNull();
  });

  test("anything that is not a command name is an invalid command, whatever follows", () => {
    for (const line of ["x", "hello", "nonsense with words", "messages luke hi", "messageluke hi", "whoelse5", "-", "123"]) {
      expect({ line, got: parseCommand(line) }).toEqual({ line, got: err(INVALID) });
    }
  });

  test("command names are case-sensitive", () => {
    for (const line of ["Message luke hi", "WHOELSE", "Logout", "searchfile song.mp3", "searchchunk song.mp3 1", "startPrivate luke"]) {
      expect({ line, got: parseCommand(line) }).toEqual({ line, got: err(INVALID) });
    }
  });

  test("names of built-in object properties are not commands", () => {
    for (const line of ["toString", "constructor x", "__proto__", "hasOwnProperty message", "valueOf 1"]) {
      expect({ line, got: parseCommand(line) }).toEqual({ line, got: err(INVALID) });
    }
  });
});

describe("parseCommand: white space", () => {
  test("leading, trailing and repeated spaces or tabs between words do not matter", () => {
    expect(parseCommand("   whoelse   ")).toEqual(ok({ name: "whoelse" }));
    expect(parseCommand("\twhoelsesince \t 60\t")).toEqual(ok({ name: "whoelsesince", seconds: 60 }));
    expect(parseCommand("  block    yoda  ")).toEqual(ok({ name: "block", user: "yoda" }));
    expect(parseCommand("register   a.txt    4  ")).toEqual(ok({ name: "register", path: "a.txt", chunks: 4 }));
    expect(parseCommand(" searchChunk  f \t 1   2  ")).toEqual(ok({ name: "searchChunk", file: "f", chunks: [1, 2] }));
    expect(parseCommand("  private  hans   download   f   3  ")).toEqual(
      ok({ name: "privateDownload", user: "hans", file: "f", chunk: 3 }),
    );
    expect(parseCommand("  help   logout ")).toEqual(ok({ name: "help", topic: "logout" }));
  });

  // A text is what follows the last required word, with the white space around it
  // dropped and the white space inside it kept as typed. Dropping the ends is right:
  // a trailing space is never meant, and a leading one is indistinguishable from the
  // separator; the inside is the user's text and is sent as typed.
  test("texts keep their inner spacing; the spaces around them are dropped", () => {
    expect(parseCommand("message luke hello there,  two spaces kept")).toEqual(
      ok({ name: "message", user: "luke", text: "hello there,  two spaces kept" }),
    );
    expect(parseCommand("  message   luke    hi  there  ")).toEqual(ok({ name: "message", user: "luke", text: "hi  there" }));
    expect(parseCommand("message\tluke\ta\tb")).toEqual(ok({ name: "message", user: "luke", text: "a\tb" }));
    expect(parseCommand("broadcast    hi    all   ")).toEqual(ok({ name: "broadcast", text: "hi    all" }));
    expect(parseCommand(" private  luke   see  you ")).toEqual(ok({ name: "private", user: "luke", text: "see  you" }));
  });

  test("a text may hold command words and numbers; it is never parsed further", () => {
    expect(parseCommand("message luke logout")).toEqual(ok({ name: "message", user: "luke", text: "logout" }));
    expect(parseCommand("broadcast message luke 1 2")).toEqual(ok({ name: "broadcast", text: "message luke 1 2" }));
    expect(parseCommand("message luke download f 3")).toEqual(ok({ name: "message", user: "luke", text: "download f 3" }));
  });

  test("any amount of padding and separators gives the same command as single spaces", () => {
    const word = fc.stringMatching(/^[a-z0-9._-]{1,8}$/);
    const gap = fc.stringMatching(/^[ \t]{1,4}$/);
    const pad = fc.stringMatching(/^[ \t]{0,3}$/);
    const line = fc.oneof(
      fc.tuple(fc.constantFrom("block", "unblock", "startprivate", "stopprivate", "searchFile", "download", "help"), word).map((w) => [...w]),
      fc.tuple(fc.constant("whoelsesince"), fc.nat(99_999).map(String)).map((w) => [...w]),
      fc.tuple(fc.constant("register"), word, fc.integer({ min: 1, max: MAX_CHUNKS }).map(String)).map((w) => [...w]),
      fc.tuple(fc.constant("searchChunk"), word, fc.array(fc.integer({ min: 1, max: 999 }).map(String), { minLength: 1, maxLength: 5 })).map(([c, f, ns]) => [c, f, ...ns]),
      fc.tuple(fc.constantFrom("message", "private"), word, word).map((w) => [...w]),
      fc.constantFrom(["whoelse"], ["logout"], ["help"]),
    );
    fc.assert(
      fc.property(line, pad, pad, fc.array(gap, { minLength: 10, maxLength: 10 }), (words, before, after, gaps) => {
        const spaced = before + words.map((w, i) => (i === 0 ? w : gaps[i]! + w)).join("") + after;
        const plain = parseCommand(words.join(" "));
        expect(plain?.ok).toBe(true);
        expect(parseCommand(spaced)).toEqual(plain);
      }),
      { numRuns: 500 },
    );
  });
});

describe("parseCommand: text length", () => {
  const max = "a".repeat(4095) + "z"; // 4096 bytes
  test("a text of 4096 bytes is taken; 4097 bytes is too long (message, broadcast, private)", () => {
    expect(parseCommand(`message luke ${max}`)).toEqual(ok({ name: "message", user: "luke", text: max }));
    expect(parseCommand(`broadcast ${max}`)).toEqual(ok({ name: "broadcast", text: max }));
    expect(parseCommand(`private luke ${max}`)).toEqual(ok({ name: "private", user: "luke", text: max }));
    expect(parseCommand(`message luke ${max}!`)).toEqual(err(TOO_LONG));
    expect(parseCommand(`broadcast ${max}!`)).toEqual(err(TOO_LONG));
    expect(parseCommand(`private luke ${max}!`)).toEqual(err(TOO_LONG));
  });

  test("the limit counts UTF-8 bytes, not characters; the spaces dropped around a text do not count", () => {
    const two = "é".repeat(2048); // 4096 bytes
    expect(parseCommand(`message luke ${two}`)).toEqual(ok({ name: "message", user: "luke", text: two }));
    expect(parseCommand(`message luke ${two}é`)).toEqual(err(TOO_LONG));
    expect(parseCommand(`broadcast ${"😀".repeat(1024)}`)).toEqual(ok({ name: "broadcast", text: "😀".repeat(1024) }));
    expect(parseCommand(`broadcast ${"😀".repeat(1024)}a`)).toEqual(err(TOO_LONG));
    expect(parseCommand(`message luke    ${max}    `)).toEqual(ok({ name: "message", user: "luke", text: max }));
  });
});

describe("parseCommand: numbers", () => {
  test("whoelsesince takes a whole number of seconds, 0 included", () => {
    expect(parseCommand("whoelsesince 0")).toEqual(ok({ name: "whoelsesince", seconds: 0 }));
    expect(parseCommand("whoelsesince 007")).toEqual(ok({ name: "whoelsesince", seconds: 7 }));
    expect(parseCommand(`whoelsesince ${Number.MAX_SAFE_INTEGER}`)).toEqual(
      ok({ name: "whoelsesince", seconds: Number.MAX_SAFE_INTEGER }),
    );
  });

  test("whoelsesince with a negative, fractional, signed, written-out or too large time gives its usage line", () => {
    for (const t of ["-1", "-0", "1.5", "0.0", "+5", "1e3", "0x10", "ten", "5s", "99999999999999999999", String(Number.MAX_SAFE_INTEGER + 1)]) {
      expect({ t, got: parseCommand(`whoelsesince ${t}`) }).toEqual({ t, got: err(USAGE.whoelsesince) });
    }
  });

  test(`register takes a chunk count from 1 to ${MAX_CHUNKS}; without one the default is left to the sharer`, () => {
    expect(parseCommand("register a.txt")).toEqual(ok({ name: "register", path: "a.txt" }));
    expect(parseCommand("register a.txt 1")).toEqual(ok({ name: "register", path: "a.txt", chunks: 1 }));
    expect(parseCommand("register a.txt 010")).toEqual(ok({ name: "register", path: "a.txt", chunks: 10 }));
    expect(parseCommand(`register a.txt ${MAX_CHUNKS}`)).toEqual(ok({ name: "register", path: "a.txt", chunks: MAX_CHUNKS }));
    for (const n of ["0", String(MAX_CHUNKS + 1), "-1", "2.5", "+3", "ten", "1e2", "99999999999999999999"]) {
      expect({ n, got: parseCommand(`register a.txt ${n}`) }).toEqual({ n, got: err(USAGE.register) });
    }
  });

  test("searchChunk takes one or more chunk numbers from 1, in the order typed, repeats kept", () => {
    expect(parseCommand("searchChunk f 1 1 3")).toEqual(ok({ name: "searchChunk", file: "f", chunks: [1, 1, 3] }));
    expect(parseCommand("searchChunk f 9 2")).toEqual(ok({ name: "searchChunk", file: "f", chunks: [9, 2] }));
    // Numbers past the file's chunk count are for the server to answer ("not available").
    expect(parseCommand("searchChunk f 1000")).toEqual(ok({ name: "searchChunk", file: "f", chunks: [1000] }));
    for (const list of ["0", "1 0", "-2", "1.5", "1 x", "x 1", "+1", String(Number.MAX_SAFE_INTEGER + 1)]) {
      expect({ list, got: parseCommand(`searchChunk f ${list}`) }).toEqual({ list, got: err(USAGE.searchChunk) });
    }
  });

  test(`searchChunk takes at most ${MAX_CHUNKS} chunk numbers`, () => {
    const all = parseCommand(`searchChunk f ${numbers(MAX_CHUNKS)}`);
    expect(all?.ok && all.cmd.name === "searchChunk" && all.cmd.chunks.length).toBe(MAX_CHUNKS);
    expect(parseCommand(`searchChunk f ${numbers(MAX_CHUNKS + 1)}`)).toEqual(err(USAGE.searchChunk));
  });

  test("private <user> download <name> <chunk> takes a whole chunk number", () => {
    expect(parseCommand("private hans download f 1")).toEqual(ok({ name: "privateDownload", user: "hans", file: "f", chunk: 1 }));
    expect(parseCommand("private hans download f 012")).toEqual(ok({ name: "privateDownload", user: "hans", file: "f", chunk: 12 }));
    // 0 is passed on: the sharer answers it as a chunk the holder does not have.
    expect(parseCommand("private hans download f 0")).toEqual(ok({ name: "privateDownload", user: "hans", file: "f", chunk: 0 }));
  });

  // Anything after `private <user>` that is not exactly `download <name> <whole number>`
  // is a private text: the parser cannot tell a mistyped download from a chat line, so
  // such a line is sent to the peer as typed.
  test("private <user> download ... without a whole chunk number is a private text", () => {
    for (const text of [
      "download f",
      "download f -1",
      "download f 1.5",
      "download f 99999999999999999999",
      "download f 3 4",
      "Download f 3",
      "download",
    ]) {
      expect(parseCommand(`private hans ${text}`)).toEqual(ok({ name: "private", user: "hans", text }));
    }
  });
});

describe("help topics", () => {
  test("any one word is a topic for the parser; an unknown topic is answered as an invalid command", () => {
    expect(parseCommand("help nonsense")).toEqual(ok({ name: "help", topic: "nonsense" }));
    expect(helpText("nonsense")).toEqual([INVALID]);
    expect(helpText("whoelsesince")[0]).toBe("whoelsesince <time>");
  });
});
