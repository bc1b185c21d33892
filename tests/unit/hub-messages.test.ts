/** The hub (src/server/hub.ts): direct messages (online, stored for offline users, blocked, the size limit, the mailbox bound) and broadcasts. */
import { describe, expect, test } from "bun:test";
import type { ReplyCode } from "../../src/protocol/messages.ts";
import { CFG, checkedBenches, msg, result } from "./hubkit.ts";

const bench = checkedBenches();

describe("message", () => {
  test("to an online user: recipient gets msg kind direct, sender gets ok", () => {
    const b = bench();
    const h = b.online("hans");
    const y = b.online("yoda");
    b.out.take(h);
    expect(b.ask(h, { t: "message", to: "yoda", text: "hello yoda" })).toEqual({ code: "ok" });
    expect(b.out.take(y)).toEqual([msg("hans", "hello yoda", "direct")]);
  });

  test("to an offline user: stored, delivered at next login after login_result, oldest first", () => {
    const b = bench();
    const y = b.online("yoda");
    const l = b.online("luke");
    expect(b.ask(y, { t: "message", to: "hans", text: "first" })).toEqual({ code: "stored" });
    b.clock.advance(1000);
    expect(b.ask(l, { t: "message", to: "hans", text: "second" })).toEqual({ code: "stored" });
    b.clock.advance(1000);
    expect(b.ask(y, { t: "message", to: "hans", text: "third" })).toEqual({ code: "stored" });
    expect(b.store.mailbox.count("hans")).toBe(3);

    const h = b.greeted();
    expect(b.login(h, "hans", "falcon")).toEqual([
      result("ok", "hans"),
      msg("yoda", "first", "offline"),
      msg("luke", "second", "offline"),
      msg("yoda", "third", "offline"),
    ]);
    expect(b.store.mailbox.count("hans")).toBe(0);

    // Delivered once: the next login brings nothing.
    b.ask(h, { t: "logout" });
    const h2 = b.greeted();
    expect(b.login(h2, "hans", "falcon")).toEqual([result("ok", "hans")]);
  });

  test("stored messages keep the time they were sent", () => {
    const b = bench();
    const y = b.online("yoda");
    const t = b.clock.now();
    b.ask(y, { t: "message", to: "hans", text: "x" });
    expect(b.store.mailbox.peek("hans", 0, 10)).toEqual([{ from: "yoda", text: "x", at: t, seq: 1 }]);
  });

  test("recipient has blocked the sender: blocked_you, nothing delivered or stored", () => {
    const b = bench();
    const h = b.online("hans");
    const y = b.online("yoda");
    b.out.take(h);
    expect(b.ask(h, { t: "block", user: "yoda" })).toEqual({ code: "ok", user: "yoda" });
    expect(b.ask(y, { t: "message", to: "hans", text: "hi" })).toEqual({ code: "blocked_you" });
    b.quiet(h);
    // ...and the block still holds when hans is offline.
    b.ask(h, { t: "logout" });
    b.out.take(y);
    expect(b.ask(y, { t: "message", to: "hans", text: "hi again" })).toEqual({ code: "blocked_you" });
    expect(b.store.mailbox.count("hans")).toBe(0);
    // The blocker can still message the one they blocked.
    const h2 = b.online("hans");
    b.out.take(y);
    expect(b.ask(h2, { t: "message", to: "yoda", text: "one way" })).toEqual({ code: "ok" });
    expect(b.out.take(y)).toEqual([msg("hans", "one way", "direct")]);
  });

  test("unknown recipient: invalid_user (names are case-sensitive)", () => {
    const b = bench();
    const h = b.online("hans");
    expect(b.ask(h, { t: "message", to: "nobody", text: "hi" })).toEqual({ code: "invalid_user" });
    expect(b.ask(h, { t: "message", to: "Yoda", text: "hi" })).toEqual({ code: "invalid_user" });
    expect(b.ask(h, { t: "message", to: "", text: "hi" })).toEqual({ code: "invalid_user" });
    expect(b.store.mailbox.count("nobody")).toBe(0);
  });

  test("to self: self", () => {
    const b = bench();
    const h = b.online("hans");
    expect(b.ask(h, { t: "message", to: "hans", text: "me" })).toEqual({ code: "self" });
    expect(b.out.take(h)).toEqual([]);
  });

  test("4096 bytes is fine, 4097 is too_long", () => {
    const b = bench();
    const h = b.online("hans");
    const y = b.online("yoda");
    b.out.take(h);
    expect(b.ask(h, { t: "message", to: "yoda", text: "a".repeat(4096) })).toEqual({ code: "ok" });
    expect(b.out.take(y)).toEqual([msg("hans", "a".repeat(4096), "direct")]);
    expect(b.ask(h, { t: "message", to: "yoda", text: "a".repeat(4097) })).toEqual({ code: "too_long" });
    b.quiet(y);
  });

  test("the limit counts UTF-8 bytes, not characters", () => {
    const b = bench();
    const h = b.online("hans");
    const y = b.online("yoda");
    b.out.take(h);
    const cases: [string, ReplyCode][] = [
      ["é".repeat(2048), "ok"], // 2048 chars, 4096 bytes
      ["é".repeat(2049), "too_long"], // 2049 chars, 4098 bytes
      ["😀".repeat(1024), "ok"], // 4096 bytes
      ["😀".repeat(1024) + "a", "too_long"], // 4097 bytes
      ["漢".repeat(1365) + "a", "ok"], // 4096 bytes
      ["漢".repeat(1366), "too_long"], // 4098 bytes, only 1366 chars
    ];
    for (const [text, code] of cases) {
      expect({ len: text.length, reply: b.ask(h, { t: "message", to: "yoda", text }) }).toEqual({
        len: text.length,
        reply: { code },
      });
      expect(b.out.take(y)).toEqual(code === "ok" ? [msg("hans", text, "direct")] : []);
    }
  });

  test("too long for an offline user is not stored", () => {
    const b = bench();
    const h = b.online("hans");
    expect(b.ask(h, { t: "message", to: "yoda", text: "x".repeat(4097) })).toEqual({ code: "too_long" });
    expect(b.store.mailbox.count("yoda")).toBe(0);
  });

  test("mailbox_full once maxMailbox messages wait; room again after delivery", () => {
    const b = bench();
    const h = b.online("hans");
    for (let i = 1; i <= CFG.maxMailbox; i++) {
      expect(b.ask(h, { t: "message", to: "yoda", text: `m${i}` })).toEqual({ code: "stored" });
    }
    expect(b.ask(h, { t: "message", to: "yoda", text: "one too many" })).toEqual({ code: "mailbox_full" });
    expect(b.store.mailbox.count("yoda")).toBe(CFG.maxMailbox);
    // Other mailboxes are not affected.
    expect(b.ask(h, { t: "message", to: "luke", text: "hi luke" })).toEqual({ code: "stored" });

    const y = b.greeted();
    expect(b.login(y, "yoda", "wise")).toEqual([
      result("ok", "yoda"),
      msg("hans", "m1", "offline"),
      msg("hans", "m2", "offline"),
      msg("hans", "m3", "offline"),
    ]);
    b.ask(y, { t: "logout" });
    b.out.take(h);
    expect(b.ask(h, { t: "message", to: "yoda", text: "again" })).toEqual({ code: "stored" });
  });
});

describe("broadcast", () => {
  function four() {
    const b = bench();
    const h = b.online("hans");
    const y = b.online("yoda");
    const l = b.online("luke");
    const v = b.online("vader");
    for (const s of [h, y, l, v]) b.out.take(s);
    return { b, h, y, l, v };
  }

  test("reaches every other online user; ok when nobody was skipped; the sender gets no copy", () => {
    const { b, h, y, l, v } = four();
    expect(b.ask(h, { t: "broadcast", text: "hi all" })).toEqual({ code: "ok" });
    for (const s of [y, l, v]) expect(b.out.take(s)).toEqual([msg("hans", "hi all", "broadcast")]);
    b.quiet(h);
  });

  test("skips users who blocked the sender and says partial", () => {
    const { b, h, y, l, v } = four();
    b.ask(v, { t: "block", user: "hans" });
    b.ask(l, { t: "block", user: "hans" });
    expect(b.ask(h, { t: "broadcast", text: "hi all" })).toEqual({ code: "partial" });
    expect(b.out.take(y)).toEqual([msg("hans", "hi all", "broadcast")]);
    b.quiet(h, l, v);
  });

  test("users the sender has blocked still receive it (only blockers of the sender are skipped)", () => {
    const { b, h, y, l, v } = four();
    b.ask(h, { t: "block", user: "yoda" });
    expect(b.ask(h, { t: "broadcast", text: "x" })).toEqual({ code: "ok" });
    for (const s of [y, l, v]) expect(b.out.take(s)).toEqual([msg("hans", "x", "broadcast")]);
  });

  test("an offline blocker leaves nobody out: ok", () => {
    const b = bench();
    const h = b.online("hans");
    const y = b.online("yoda");
    b.store.blocks.add("vader", "hans");
    b.out.take(h);
    expect(b.ask(h, { t: "broadcast", text: "x" })).toEqual({ code: "ok" });
    expect(b.out.take(y)).toEqual([msg("hans", "x", "broadcast")]);
  });

  test("alone: ok, nothing sent", () => {
    const b = bench();
    const h = b.online("hans");
    expect(b.ask(h, { t: "broadcast", text: "anyone?" })).toEqual({ code: "ok" });
  });

  test("not stored for offline users", () => {
    const b = bench();
    const h = b.online("hans");
    b.ask(h, { t: "broadcast", text: "while you were out" });
    expect(b.store.mailbox.count("yoda")).toBe(0);
    const y = b.greeted();
    expect(b.login(y, "yoda", "wise")).toEqual([result("ok", "yoda")]);
  });

  test("over 4096 bytes: too_long, nobody gets it", () => {
    const { b, h, y, l, v } = four();
    expect(b.ask(h, { t: "broadcast", text: "é".repeat(2049) })).toEqual({ code: "too_long" });
    b.quiet(y, l, v);
    expect(b.ask(h, { t: "broadcast", text: "é".repeat(2048) })).toEqual({ code: "ok" });
    expect(b.out.take(y)).toEqual([msg("hans", "é".repeat(2048), "broadcast")]);
  });
});
