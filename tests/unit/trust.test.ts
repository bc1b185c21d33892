import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { judgeServer, knownServersPath, parseKnownServers, readKnownServers, rememberServer } from "../../src/client/trust.ts";

const A = "SHA256:" + "A".repeat(43);
const B = "SHA256:" + "B".repeat(43);
const dir = mkdtempSync(join(tmpdir(), "trust-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = { hostPort: "127.0.0.1:4000", fingerprint: A, caVerified: false, known: new Map<string, string>() };

describe("judgeServer", () => {
  test("unknown server: new", () => expect(judgeServer(base).kind).toBe("new"));
  test("same fingerprint: known", () =>
    expect(judgeServer({ ...base, known: new Map([["127.0.0.1:4000", A]]) }).kind).toBe("known"));
  test("another fingerprint for this host:port: changed", () =>
    expect(judgeServer({ ...base, known: new Map([["127.0.0.1:4000", B]]) }).kind).toBe("changed"));
  test("a line for another port does not count", () =>
    expect(judgeServer({ ...base, known: new Map([["127.0.0.1:4001", B]]) }).kind).toBe("new"));
  test("CA-verified: accepted whatever known_servers says", () =>
    expect(judgeServer({ ...base, caVerified: true, known: new Map([["127.0.0.1:4000", B]]) }).kind).toBe("ca"));
  test("--fingerprint: only that one, even over a CA and the file", () => {
    expect(judgeServer({ ...base, pinned: A, known: new Map([["127.0.0.1:4000", B]]) }).kind).toBe("pinned");
    expect(judgeServer({ ...base, pinned: B, caVerified: true }).kind).toBe("pin_mismatch");
  });
});

describe("known_servers", () => {
  test("path: XDG_CONFIG_HOME, else ~/.config", () => {
    expect(knownServersPath({ XDG_CONFIG_HOME: "/x/cfg", HOME: "/home/u" })).toBe("/x/cfg/termchat/known_servers");
    expect(knownServersPath({ HOME: "/home/u" })).toBe("/home/u/.config/termchat/known_servers");
    // a relative XDG_CONFIG_HOME is invalid by the XDG spec and ignored
    expect(knownServersPath({ XDG_CONFIG_HOME: "rel", HOME: "/home/u" })).toBe("/home/u/.config/termchat/known_servers");
  });

  test("parse: one server per line, damage and comments passed over, first line wins", () => {
    const m = parseKnownServers(`# comment\nh:1 ${A}\ngarbage\n\nh:2 ${B}\nh:1 ${B}\n`);
    expect([...m]).toEqual([
      ["h:1", A],
      ["h:2", B],
    ]);
  });

  test("remember: makes the folder, appends, file mode 0600; read back", () => {
    const file = join(dir, "cfg", "termchat", "known_servers");
    expect(readKnownServers(file).size).toBe(0);
    rememberServer(file, "h:1", A);
    rememberServer(file, "h:2", B);
    expect(readFileSync(file, "utf8")).toBe(`h:1 ${A}\nh:2 ${B}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "cfg", "termchat")).mode & 0o777).toBe(0o700);
    expect([...readKnownServers(file)]).toEqual([
      ["h:1", A],
      ["h:2", B],
    ]);
  });
});
