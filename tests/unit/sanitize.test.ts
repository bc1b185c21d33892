import { describe, expect, test } from "bun:test";
import { stripControls } from "../../src/common/sanitize.ts";

describe("stripControls removes what could paint on a terminal", () => {
  test.each([
    // CSI (colours, cursor, screen)
    ["\u001b[31mred\u001b[0m", "red"],
    ["\u001b[1;38;5;196mX\u001b[m", "X"],
    ["\u001b[38;2;255;0;0mtrue colour\u001b[39m", "true colour"],
    ["\u001b[2J\u001b[Hcleared", "cleared"],
    ["a\u001b[?25lb", "ab"],
    ["up\u001b[1Aover", "upover"],
    // OSC (window title, hyperlinks), ended by BEL, by ESC \ or by 8-bit ST
    ["a\u001b]0;evil title\u0007b", "ab"],
    ["a\u001b]2;title\u001b\\b", "ab"],
    ["\u001b]8;;http://evil.example\u001b\\click\u001b]8;;\u001b\\", "click"],
    ["a\u009d0;title\u009cb", "ab"],
    // An unterminated OSC swallows the rest, as the terminal itself would.
    ["x\u001b]0;never ends", "x"],
    // 8-bit CSI (C1 \u009b)
    ["a\u009b31mb", "ab"],
    ["a\u009b2Jb", "ab"],
    // other two-byte ESC sequences, and a lone ESC
    ["\u001bcreset", "reset"],
    ["a\u001b7b\u001b8c", "abc"],
    ["end\u001b", "end"],
    ["\u001b[", ""],
    // C0 controls: CR, LF, BEL, TAB, backspace, NUL
    ["fake\rreal", "fakereal"],
    ["x\r\ny", "xy"],
    ["ding\u0007dong", "dingdong"],
    ["tab\there", "tabhere"],
    ["abc\b\b\bxyz", "abcxyz"],
    ["nul\u0000l", "null"],
    // DEL and C1 controls
    ["del\u007fx", "delx"],
    ["c1\u0080\u0085\u008d\u009fz", "c1z"],
  ])("%j -> %j", (input, want) => {
    expect(stripControls(input)).toBe(want);
  });
});

describe("stripControls leaves ordinary text alone", () => {
  test.each([
    [""],
    ["plain ascii with punctuation: !@#$%^&*()[]{};'\"\\,./<>?`~"],
    ["accents: héllo wörld ñ ç àéîõü Ångström"],
    ["emoji: 😀 🎉 ❤️ 👍🏽"],
    ["ZWJ family and flags: 👩‍👩‍👧 🇫🇷 🏳️‍🌈"],
    ["CJK and RTL: 漢字 かな 한글 שלום مرحبا"],
    ["combining: e\u0301 a\u0308"],
    ["no-break space:\u00a0here, soft hyphen:\u00ad, euro € after C1 range"],
    ["[31m looks like CSI but has no ESC"],
  ])("%j is untouched", (s) => {
    expect(stripControls(s)).toBe(s);
  });

  test("only the escape is removed from the middle of real text", () => {
    expect(stripControls("Grüße \u001b[1mfett\u001b[22m 😀!")).toBe("Grüße fett 😀!");
  });

  test("is idempotent", () => {
    const nasty = "\u001b[31m\u001b]0;t\u0007a\r\u009b1mb\u001b\u001b[c";
    const once = stripControls(nasty);
    expect(stripControls(once)).toBe(once);
    expect(once).toBe("ab");
  });
});

describe("stripControls bidi", () => {
  test("bidirectional overrides and isolates are removed (no reordering spoof)", () => {
    expect(stripControls("hans\u202eexe.txt")).toBe("hansexe.txt");
    expect(stripControls("a\u2066b\u2067c\u2068d\u2069e\u202af\u202bg\u202ch\u202di")).toBe("abcdefghi");
  });
});

describe("remote strings in the client's connect texts", () => {
  test("a server's error detail reaches the terminal stripped", async () => {
    const { T } = await import("../../src/client/texts.ts");
    expect(T.versionMismatch("version: \u001b]0;pwned\u0007need v9\r")).toBe("server speaks another protocol version (version: need v9)");
    expect(T.cannotConnect("h", 1, "busy\u001b[2J\u009b1m now")).toBe("cannot connect to server at h:1 (busy now)");
  });
});
