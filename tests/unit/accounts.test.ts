import { describe, expect, test } from "bun:test";
import { ManualClock } from "../../src/common/clock.ts";
import { Accounts, MAX_FAILURES, parseCredentials } from "../../src/server/accounts.ts";
import { typeInto } from "../../src/server/hash-password.ts";

const malformed = (line: number) => `credentials line ${line} is malformed (expected "username password"), skipped`;
const repeats = (line: number, user: string) => `credentials line ${line} repeats user ${user}, skipped`;

describe("parseCredentials", () => {
  test("one user per line", () => {
    const { users, warnings } = parseCredentials("hans falcon\nyoda wise\n");
    expect([...users]).toEqual([
      ["hans", "falcon"],
      ["yoda", "wise"],
    ]);
    expect(warnings).toEqual([]);
  });

  test("no trailing newline, and CRLF line ends", () => {
    expect([...parseCredentials("hans falcon").users]).toEqual([["hans", "falcon"]]);
    const crlf = parseCredentials("hans falcon\r\nyoda wise\r\n");
    expect([...crlf.users]).toEqual([
      ["hans", "falcon"],
      ["yoda", "wise"],
    ]);
    expect(crlf.warnings).toEqual([]);
  });

  test("blank and whitespace-only lines are ignored without a warning", () => {
    const { users, warnings } = parseCredentials("\n\nhans falcon\n   \n\t\n\nyoda wise\n\n");
    expect([...users.keys()]).toEqual(["hans", "yoda"]);
    expect(warnings).toEqual([]);
  });

  test("an empty file gives no users and no warnings", () => {
    expect(parseCredentials("")).toEqual({ users: new Map(), warnings: [] });
  });

  test("malformed lines are skipped with a warning naming their line number (blank lines counted)", () => {
    const text = [
      "hans falcon", // 1
      "justaname", // 2
      "", // 3
      "a b c", // 4
      "two  spaces", // 5
      " leading space", // 6
      "trailing space ", // 7
      "tab\tseparated", // 8
      "yoda wise", // 9
    ].join("\n");
    const { users, warnings } = parseCredentials(text);
    expect([...users]).toEqual([
      ["hans", "falcon"],
      ["yoda", "wise"],
    ]);
    expect(warnings).toEqual([2, 4, 5, 6, 7, 8].map(malformed));
  });

  test("a repeated username keeps the first password and warns about the repeat", () => {
    const { users, warnings } = parseCredentials("hans falcon\nyoda wise\nhans other\nhans third\n");
    expect([...users]).toEqual([
      ["hans", "falcon"],
      ["yoda", "wise"],
    ]);
    expect(warnings).toEqual([repeats(3, "hans"), repeats(4, "hans")]);
  });

  test("names and passwords are case-sensitive and may hold any non-space characters", () => {
    const { users, warnings } = parseCredentials("Hans Falcon\nhans falcon\nünï 🔑pa$$:w0rd\n");
    expect([...users]).toEqual([
      ["Hans", "Falcon"],
      ["hans", "falcon"],
      ["ünï", "🔑pa$$:w0rd"],
    ]);
    expect(warnings).toEqual([]);
  });
});

describe("Accounts", () => {
  const BLOCK_MS = 10_000;
  function make() {
    const clock = new ManualClock();
    const users = new Map([
      ["hans", "falcon"],
      ["yoda", "wise"],
    ]);
    return { clock, acc: new Accounts(users, clock, BLOCK_MS) };
  }

  test("MAX_FAILURES is 3", () => {
    expect(MAX_FAILURES).toBe(3);
  });

  test("exists and names", () => {
    const { acc } = make();
    expect(acc.exists("hans")).toBe(true);
    expect(acc.exists("Hans")).toBe(false);
    expect(acc.exists("")).toBe(false);
    expect(acc.names.sort()).toEqual(["hans", "yoda"]);
  });

  test("verdicts: ok, unknown_user, bad_password", () => {
    const { acc } = make();
    expect(acc.attempt("hans", "falcon")).toBe("ok");
    expect(acc.attempt("nobody", "falcon")).toBe("unknown_user");
    expect(acc.attempt("hans", "Falcon")).toBe("bad_password");
    expect(acc.attempt("hans", "falco")).toBe("bad_password");
    expect(acc.attempt("hans", "falconx")).toBe("locked_now");
  });

  test("unknown users never lock anything", () => {
    const { acc } = make();
    for (let i = 0; i < 10; i++) expect(acc.attempt("nobody", "x")).toBe("unknown_user");
    expect(acc.isBlocked("nobody")).toBe(false);
  });

  test("third consecutive failure: locked_now, then blocked even with the right password", () => {
    const { acc } = make();
    expect(acc.attempt("hans", "a")).toBe("bad_password");
    expect(acc.attempt("hans", "b")).toBe("bad_password");
    expect(acc.isBlocked("hans")).toBe(false);
    expect(acc.attempt("hans", "c")).toBe("locked_now");
    expect(acc.isBlocked("hans")).toBe(true);
    expect(acc.attempt("hans", "falcon")).toBe("blocked");
    expect(acc.attempt("hans", "wrong")).toBe("blocked");
    // Another user is unaffected.
    expect(acc.attempt("yoda", "wise")).toBe("ok");
  });

  test("the block lasts exactly blockMs from the third failure", () => {
    const { acc, clock } = make();
    for (const p of ["a", "b", "c"]) acc.attempt("hans", p);
    clock.advance(BLOCK_MS - 1);
    expect(acc.isBlocked("hans")).toBe(true);
    expect(acc.attempt("hans", "falcon")).toBe("blocked");
    clock.advance(1);
    expect(acc.isBlocked("hans")).toBe(false);
    expect(acc.attempt("hans", "falcon")).toBe("ok");
  });

  test("after the block, the count starts from zero", () => {
    const { acc, clock } = make();
    for (const p of ["a", "b", "c"]) acc.attempt("hans", p);
    clock.advance(BLOCK_MS);
    expect(acc.attempt("hans", "d")).toBe("bad_password");
    expect(acc.attempt("hans", "e")).toBe("bad_password");
    expect(acc.attempt("hans", "f")).toBe("locked_now");
  });

  test("a success resets the count", () => {
    const { acc } = make();
    acc.attempt("hans", "a");
    acc.attempt("hans", "b");
    expect(acc.attempt("hans", "falcon")).toBe("ok");
    expect(acc.attempt("hans", "c")).toBe("bad_password");
    expect(acc.attempt("hans", "d")).toBe("bad_password");
    expect(acc.attempt("hans", "e")).toBe("locked_now");
  });

  test("failures are counted per user, not shared", () => {
    const { acc } = make();
    acc.attempt("hans", "a");
    acc.attempt("hans", "b");
    expect(acc.attempt("yoda", "a")).toBe("bad_password");
    expect(acc.attempt("yoda", "b")).toBe("bad_password");
    expect(acc.attempt("hans", "c")).toBe("locked_now");
    expect(acc.isBlocked("yoda")).toBe(false);
  });

  test("the block starts at the third failure, not the first", () => {
    const { acc, clock } = make();
    acc.attempt("hans", "a");
    clock.advance(5_000);
    acc.attempt("hans", "b");
    clock.advance(5_000);
    expect(acc.attempt("hans", "c")).toBe("locked_now");
    clock.advance(BLOCK_MS - 1);
    expect(acc.attempt("hans", "falcon")).toBe("blocked");
  });

  test("an empty password is just a wrong password", () => {
    const { acc } = make();
    expect(acc.attempt("hans", "")).toBe("bad_password");
  });
});

describe("--hash-password input", () => {
  test("a line ends at Enter or Ctrl-D; Backspace removes a character; Ctrl-C abandons it", () => {
    expect(typeInto("", "sesame\n")).toEqual({ text: "sesame", done: true, cancelled: false });
    expect(typeInto("", "sesam\r")).toEqual({ text: "sesam", done: true, cancelled: false });
    expect(typeInto("ses", "ame")).toEqual({ text: "sesame", done: false, cancelled: false });
    expect(typeInto("", "sesamx\u007fe\u0004")).toEqual({ text: "sesame", done: true, cancelled: false });
    expect(typeInto("", "\b\bab\bc\n").text).toBe("ac");
    expect(typeInto("secret", "\u0003").cancelled).toBe(true);
  });
});
