import { afterEach, describe, expect, test } from "bun:test";
import type { ClientMsg, LOGIN_CODES, ReplyCode, ServerMsg } from "../../src/protocol/messages.ts";
import type { HubConfig } from "../../src/server/hub.ts";
import { MAX_TOKENS, PeerTokens, TOKEN_TTL_MS } from "../../src/server/peertokens.ts";
import { ManualClock } from "../../src/common/clock.ts";
import { Bench, CFG } from "./hubkit.ts";

// Every bench made in a test is checked afterwards: nothing may be sent to a closed session.
let benches: Bench[] = [];
function bench(cfg: Partial<HubConfig> = {}): Bench {
  const b = new Bench(cfg);
  benches.push(b);
  return b;
}
afterEach(() => {
  for (const b of benches) expect(b.out.afterClose).toEqual([]);
  benches = [];
});

const msg = (from: string, text: string, kind: "direct" | "broadcast" | "offline"): ServerMsg => ({
  t: "msg",
  from,
  text,
  kind,
});
const pres = (user: string, state: "in" | "out"): ServerMsg => ({ t: "presence", user, state });
const result = (code: (typeof LOGIN_CODES)[number], user: string): ServerMsg => ({ t: "login_result", code, user });

describe("hello", () => {
  test("the right version gets hello_ok and the link stays open", () => {
    const b = bench();
    const sid = b.connect();
    b.hub.receive(sid, { t: "hello", v: 1, app: "termchat" });
    expect(b.out.take(sid)).toEqual([{ t: "hello_ok", v: 1, maxFrame: 65536 }]);
    expect(b.out.closed.has(sid)).toBe(false);
  });

  for (const v of [0, 3, 99]) {
    test(`version ${v} gets error "version" and the link is closed`, () => {
      const b = bench();
      const sid = b.connect();
      b.hub.receive(sid, { t: "hello", v, app: "termchat" });
      expect(b.out.take(sid)).toEqual([{ t: "error", code: "version", detail: "server speaks versions 1, 2" }]);
      expect(b.out.closed.has(sid)).toBe(true);
    });
  }

  test("anything before hello is a protocol violation: error, then closed", () => {
    const b = bench();
    const sid = b.connect();
    b.hub.receive(sid, { t: "login", user: "hans", pass: "falcon" });
    expect(b.out.take(sid)).toEqual([{ t: "error", code: "protocol", detail: "expected hello, got login" }]);
    expect(b.out.closed.has(sid)).toBe(true);
    expect(b.hub.presence.isOnline("hans")).toBe(false);
  });

  test("violation() from the transport sends a protocol error and closes", () => {
    const b = bench();
    const sid = b.greeted();
    b.hub.violation(sid, "frame body is not valid UTF-8 JSON");
    expect(b.out.take(sid)).toEqual([{ t: "error", code: "protocol", detail: "frame body is not valid UTF-8 JSON" }]);
    expect(b.out.closed.has(sid)).toBe(true);
  });
});

describe("login", () => {
  test("right password: login_result ok, and the user is online", () => {
    const b = bench();
    const sid = b.greeted();
    expect(b.login(sid, "hans", "falcon")).toEqual([result("ok", "hans")]);
    expect(b.out.closed.has(sid)).toBe(false);
    expect(b.hub.presence.isOnline("hans")).toBe(true);
  });

  test("unknown user: unknown_user, link open, may try again", () => {
    const b = bench();
    const sid = b.greeted();
    expect(b.login(sid, "nobody", "falcon")).toEqual([result("unknown_user", "nobody")]);
    expect(b.login(sid, "Hans", "falcon")).toEqual([result("unknown_user", "Hans")]); // case-sensitive
    expect(b.out.closed.has(sid)).toBe(false);
    expect(b.login(sid, "hans", "falcon")).toEqual([result("ok", "hans")]);
  });

  test("wrong password twice: bad_password, link open; third: locked_now and closed", () => {
    const b = bench();
    const sid = b.greeted();
    expect(b.login(sid, "hans", "wrong")).toEqual([result("bad_password", "hans")]);
    expect(b.out.closed.has(sid)).toBe(false);
    expect(b.login(sid, "hans", "Falcon")).toEqual([result("bad_password", "hans")]); // case-sensitive
    expect(b.out.closed.has(sid)).toBe(false);
    expect(b.login(sid, "hans", "")).toEqual([result("locked_now", "hans")]);
    expect(b.out.closed.has(sid)).toBe(true);
    expect(b.hub.presence.isOnline("hans")).toBe(false);
  });

  test("the right password after two failures still gets in", () => {
    const b = bench();
    const sid = b.greeted();
    b.login(sid, "hans", "x");
    b.login(sid, "hans", "y");
    expect(b.login(sid, "hans", "falcon")).toEqual([result("ok", "hans")]);
  });

  test("the failure count belongs to the username: 2 failures on one link + 1 on another lock it", () => {
    const b = bench();
    const s1 = b.greeted("10.0.0.1");
    expect(b.login(s1, "hans", "a")).toEqual([result("bad_password", "hans")]);
    expect(b.login(s1, "hans", "b")).toEqual([result("bad_password", "hans")]);
    const s2 = b.greeted("10.0.0.2");
    expect(b.login(s2, "hans", "c")).toEqual([result("locked_now", "hans")]);
    expect(b.out.closed.has(s2)).toBe(true);
    expect(b.out.closed.has(s1)).toBe(false);
    // Now blocked from anywhere, even with the right password, on the old link too.
    expect(b.login(s1, "hans", "falcon")).toEqual([result("blocked", "hans")]);
    expect(b.out.closed.has(s1)).toBe(true);
    const s3 = b.greeted("10.0.0.3");
    expect(b.login(s3, "hans", "falcon")).toEqual([result("blocked", "hans")]);
    expect(b.out.closed.has(s3)).toBe(true);
    expect(b.hub.presence.isOnline("hans")).toBe(false);
  });

  test("a locked account does not affect other users", () => {
    const b = bench();
    const s1 = b.greeted();
    for (const p of ["a", "b", "c"]) b.login(s1, "hans", p);
    const s2 = b.greeted();
    expect(b.login(s2, "yoda", "wise")).toEqual([result("ok", "yoda")]);
  });

  test("blocked until blockMs has elapsed since the third failure, then admitted", () => {
    const b = bench();
    const s1 = b.greeted();
    for (const p of ["a", "b"]) b.login(s1, "hans", p);
    expect(b.login(s1, "hans", "c")).toEqual([result("locked_now", "hans")]);

    b.clock.advance(CFG.blockMs - 1);
    const s2 = b.greeted();
    expect(b.login(s2, "hans", "falcon")).toEqual([result("blocked", "hans")]);
    expect(b.out.closed.has(s2)).toBe(true);

    b.clock.advance(1);
    const s3 = b.greeted();
    expect(b.login(s3, "hans", "falcon")).toEqual([result("ok", "hans")]);
    expect(b.out.closed.has(s3)).toBe(false);
  });

  test("a blocked attempt does not extend the block", () => {
    const b = bench();
    const s1 = b.greeted();
    for (const p of ["a", "b", "c"]) b.login(s1, "hans", p);
    b.clock.advance(CFG.blockMs / 2);
    b.login(b.greeted(), "hans", "wrong"); // blocked, not counted
    b.clock.advance(CFG.blockMs / 2);
    expect(b.login(b.greeted(), "hans", "falcon")).toEqual([result("ok", "hans")]);
  });

  test("after the block expires the count starts over: one failure is only bad_password", () => {
    const b = bench();
    const s1 = b.greeted();
    for (const p of ["a", "b", "c"]) b.login(s1, "hans", p);
    b.clock.advance(CFG.blockMs);
    const s2 = b.greeted();
    expect(b.login(s2, "hans", "d")).toEqual([result("bad_password", "hans")]);
    expect(b.login(s2, "hans", "e")).toEqual([result("bad_password", "hans")]);
    expect(b.login(s2, "hans", "f")).toEqual([result("locked_now", "hans")]);
  });

  test("a successful login resets the failure count", () => {
    const b = bench();
    const s1 = b.greeted();
    b.login(s1, "hans", "a");
    b.login(s1, "hans", "b");
    expect(b.login(s1, "hans", "falcon")).toEqual([result("ok", "hans")]);
    b.ask(s1, { t: "logout" });
    const s2 = b.greeted();
    expect(b.login(s2, "hans", "c")).toEqual([result("bad_password", "hans")]);
    expect(b.login(s2, "hans", "d")).toEqual([result("bad_password", "hans")]);
    expect(b.login(s2, "hans", "e")).toEqual([result("locked_now", "hans")]);
  });

  test("already online elsewhere: already_online, closed; the first session is untouched", () => {
    const b = bench();
    const s1 = b.online("hans");
    const y = b.online("yoda");
    b.out.take(s1);
    const s2 = b.greeted();
    expect(b.login(s2, "hans", "falcon")).toEqual([result("already_online", "hans")]);
    expect(b.out.closed.has(s2)).toBe(true);
    expect(b.out.closed.has(s1)).toBe(false);
    b.quiet(s1, y); // nobody told of a login that did not happen
    expect(b.ask(y, { t: "message", to: "hans", text: "still there?" })).toEqual({ code: "ok" });
    expect(b.out.take(s1)).toEqual([msg("yoda", "still there?", "direct")]);
    // The rejected link going away does not log the real session out.
    b.hub.disconnect(s2);
    expect(b.hub.presence.get("hans")?.sid).toBe(s1);
    b.quiet(y);
  });

  test("already_online with a wrong password is still bad_password (the password is checked first)", () => {
    const b = bench();
    b.online("hans");
    const s2 = b.greeted();
    expect(b.login(s2, "hans", "nope")).toEqual([result("bad_password", "hans")]);
    expect(b.out.closed.has(s2)).toBe(false);
  });

  test("a link that does not log in within preLoginMs is closed", () => {
    const b = bench();
    const sid = b.connect();
    b.clock.advance(CFG.preLoginMs - 1);
    expect(b.out.take(sid)).toEqual([]);
    expect(b.out.closed.has(sid)).toBe(false);
    b.clock.advance(1);
    expect(b.out.take(sid)).toEqual([{ t: "error", code: "login_timeout", detail: "no login in time" }]);
    expect(b.out.closed.has(sid)).toBe(true);
  });

  test("the pre-login limit counts from connect: hello and failed logins do not extend it", () => {
    const b = bench();
    const sid = b.greeted();
    b.clock.advance(CFG.preLoginMs - 100);
    b.login(sid, "nobody", "x");
    b.clock.advance(100);
    expect(b.out.take(sid)).toEqual([{ t: "error", code: "login_timeout", detail: "no login in time" }]);
    expect(b.out.closed.has(sid)).toBe(true);
  });

  test("logging in cancels the pre-login limit", () => {
    const b = bench();
    const sid = b.online("hans");
    b.clock.advance(CFG.preLoginMs * 2);
    expect(b.out.take(sid)).toEqual([]);
    expect(b.out.closed.has(sid)).toBe(false);
  });

  test("maxLoginAttempts failures on one link close it", () => {
    const b = bench();
    const sid = b.greeted();
    const tries: [string, string, (typeof LOGIN_CODES)[number]][] = [
      ["nobody", "x", "unknown_user"],
      ["hans", "x", "bad_password"],
      ["ghost", "x", "unknown_user"],
      ["yoda", "x", "bad_password"],
    ];
    expect(tries.length).toBe(CFG.maxLoginAttempts - 1);
    for (const [u, p, code] of tries) {
      expect(b.login(sid, u, p)).toEqual([result(code, u)]);
      expect(b.out.closed.has(sid)).toBe(false);
    }
    expect(b.login(sid, "luke", "x")).toEqual([result("bad_password", "luke")]);
    expect(b.out.closed.has(sid)).toBe(true);
  });

  test("requests after hello but before login get not_logged_in and the link stays open", () => {
    const b = bench();
    const sid = b.greeted();
    const early: ClientMsg[] = [
      { t: "message", id: 1, to: "yoda", text: "hi" },
      { t: "broadcast", id: 2, text: "hi" },
      { t: "whoelse", id: 3 },
      { t: "logout", id: 4 },
      { t: "activity" },
      { t: "peer_request", id: 5, user: "yoda" },
    ];
    for (const m of early) {
      b.hub.receive(sid, m);
      expect(b.out.take(sid)).toEqual([{ t: "error", code: "not_logged_in", detail: "log in first" }]);
    }
    expect(b.out.closed.has(sid)).toBe(false);
    expect(b.login(sid, "hans", "falcon")).toEqual([result("ok", "hans")]);
  });

  test("hello or login again after login is a violation: error, closed, then out on disconnect", () => {
    const b = bench();
    const y = b.online("yoda");
    const h = b.online("hans");
    b.out.take(y);
    b.hub.receive(h, { t: "login", user: "hans", pass: "falcon" });
    expect(b.out.take(h)).toEqual([{ t: "error", code: "protocol", detail: "login after login" }]);
    expect(b.out.closed.has(h)).toBe(true);
    b.hub.disconnect(h);
    expect(b.out.take(y)).toEqual([pres("hans", "out")]);
  });
});

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

describe("whoelse", () => {
  test("alone: an empty list", () => {
    const b = bench();
    const h = b.online("hans");
    expect(b.ask(h, { t: "whoelse" })).toEqual({ code: "users", users: [] });
  });

  test("lists the other online users, not self, not offline users", () => {
    const b = bench();
    const h = b.online("hans");
    b.online("yoda");
    b.online("luke");
    b.out.take(h);
    expect(b.whoelse(h)).toEqual(["luke", "yoda"]);
  });

  test("hides users who blocked the viewer, but not users the viewer blocked", () => {
    const b = bench();
    const h = b.online("hans");
    const y = b.online("yoda");
    b.online("luke");
    b.online("vader");
    b.ask(y, { t: "block", user: "hans" });
    b.ask(h, { t: "block", user: "vader" });
    b.out.take(h);
    expect(b.whoelse(h)).toEqual(["luke", "vader"]);
    const l = b.online("r2d2");
    b.out.take(l);
    expect(b.whoelse(l)).toEqual(["hans", "luke", "vader", "yoda"]);
  });

  test("users who logged out are gone from the list", () => {
    const b = bench();
    const h = b.online("hans");
    const y = b.online("yoda");
    b.ask(y, { t: "logout" });
    b.out.take(h);
    expect(b.whoelse(h)).toEqual([]);
  });
});

describe("whoelsesince", () => {
  // Timeline (seconds from t0): hans, yoda, luke, vader log in at 0; yoda logs out at 10,
  // luke at 100; now = 200. r2d2 never logs in. Timeouts are out of the way.
  function timeline() {
    const b = bench({ timeoutMs: 24 * 3600_000 });
    const h = b.online("hans");
    const y = b.online("yoda");
    const l = b.online("luke");
    b.online("vader");
    b.clock.advance(10_000);
    b.ask(y, { t: "logout" });
    b.clock.advance(90_000);
    b.ask(l, { t: "logout" });
    b.clock.advance(100_000);
    b.out.take(h);
    return { b, h };
  }

  test("a session that began before the window and ended inside it counts; one that ended before does not", () => {
    const { b, h } = timeline();
    expect(b.since(h, 150)).toEqual(["luke", "vader"]);
  });

  test("the window edge: a logout exactly at now - time counts, one second earlier does not", () => {
    const { b, h } = timeline();
    expect(b.since(h, 100)).toEqual(["luke", "vader"]);
    expect(b.since(h, 99)).toEqual(["vader"]);
    expect(b.since(h, 190)).toEqual(["luke", "vader", "yoda"]);
    expect(b.since(h, 189)).toEqual(["luke", "vader"]);
  });

  test("a window past the server's start: everyone who logged in since the start, never-seen users excluded", () => {
    const { b, h } = timeline();
    expect(b.since(h, 1_000_000_000)).toEqual(["luke", "vader", "yoda"]);
  });

  test("0 seconds: only those online now", () => {
    const { b, h } = timeline();
    expect(b.since(h, 0)).toEqual(["vader"]);
  });

  test("users online now count however short the window, including ones back after a logout", () => {
    const { b, h } = timeline();
    b.online("yoda");
    b.out.take(h);
    expect(b.since(h, 0)).toEqual(["vader", "yoda"]);
    expect(b.since(h, 150)).toEqual(["luke", "vader", "yoda"]);
  });

  test("hides users who blocked the viewer, online or not", () => {
    const { b, h } = timeline();
    b.store.blocks.add("luke", "hans");
    b.store.blocks.add("vader", "hans");
    expect(b.since(h, 1_000_000)).toEqual(["yoda"]);
    b.store.blocks.add("hans", "yoda"); // the viewer's own blocks hide nobody
    expect(b.since(h, 1_000_000)).toEqual(["yoda"]);
  });

  test("sessions ended by timeout or disconnect count too", () => {
    const b = bench();
    const h = b.online("hans");
    const y = b.online("yoda");
    b.online("luke");
    b.hub.disconnect(y);
    b.clock.advance(CFG.timeoutMs - 1);
    b.hub.receive(h, { t: "activity" });
    b.clock.advance(1); // luke (and only luke) times out now
    b.out.take(h);
    expect(b.whoelse(h)).toEqual([]);
    expect(b.since(h, 1)).toEqual(["luke"]);
    expect(b.since(h, 60)).toEqual(["luke", "yoda"]);
  });
});

describe("block and unblock", () => {
  test("every reply code of block", () => {
    const b = bench();
    const h = b.online("hans");
    const y = b.online("yoda");
    b.out.take(h);
    expect(b.ask(h, { t: "block", user: "hans" })).toEqual({ code: "self" });
    expect(b.ask(h, { t: "block", user: "nobody" })).toEqual({ code: "invalid_user" });
    expect(b.ask(h, { t: "block", user: "yoda" })).toEqual({ code: "ok", user: "yoda" });
    expect(b.ask(h, { t: "block", user: "yoda" })).toEqual({ code: "already", user: "yoda" });
    expect(b.ask(h, { t: "block", user: "r2d2" })).toEqual({ code: "ok", user: "r2d2" }); // offline is fine
    b.quiet(y); // the blocked user is never told
    expect(b.store.blocks.has("hans", "yoda")).toBe(true);
    expect(b.store.blocks.has("yoda", "hans")).toBe(false);
  });

  test("every reply code of unblock, and delivery resumes", () => {
    const b = bench();
    const h = b.online("hans");
    const y = b.online("yoda");
    b.out.take(h);
    expect(b.ask(h, { t: "unblock", user: "hans" })).toEqual({ code: "self" });
    expect(b.ask(h, { t: "unblock", user: "nobody" })).toEqual({ code: "invalid_user" });
    expect(b.ask(h, { t: "unblock", user: "yoda" })).toEqual({ code: "not_blocked", user: "yoda" });
    b.ask(h, { t: "block", user: "yoda" });
    expect(b.ask(y, { t: "message", to: "hans", text: "1" })).toEqual({ code: "blocked_you" });
    expect(b.ask(h, { t: "unblock", user: "yoda" })).toEqual({ code: "ok", user: "yoda" });
    expect(b.ask(h, { t: "unblock", user: "yoda" })).toEqual({ code: "not_blocked", user: "yoda" });
    b.quiet(y);
    expect(b.ask(y, { t: "message", to: "hans", text: "2" })).toEqual({ code: "ok" });
    expect(b.out.take(h)).toEqual([msg("yoda", "2", "direct")]);
  });
});

describe("presence", () => {
  test("login and logout are announced to the others; the newcomer gets no presence of its own", () => {
    const b = bench();
    const h = b.online("hans");
    const l = b.online("luke");
    b.out.take(h);
    const y = b.greeted();
    expect(b.login(y, "yoda", "wise")).toEqual([result("ok", "yoda")]);
    expect(b.out.take(h)).toEqual([pres("yoda", "in")]);
    expect(b.out.take(l)).toEqual([pres("yoda", "in")]);
    expect(b.ask(y, { t: "logout" })).toEqual({ code: "bye" });
    expect(b.out.take(h)).toEqual([pres("yoda", "out")]);
    expect(b.out.take(l)).toEqual([pres("yoda", "out")]);
  });

  test("not announced to users the mover has blocked", () => {
    const b = bench();
    b.store.blocks.add("yoda", "hans");
    const h = b.online("hans");
    const l = b.online("luke");
    b.out.take(h);
    const y = b.online("yoda");
    b.quiet(h);
    expect(b.out.take(l)).toEqual([pres("yoda", "in")]);
    b.ask(y, { t: "logout" });
    b.quiet(h);
    expect(b.out.take(l)).toEqual([pres("yoda", "out")]);
  });

  test("still announced to users who have blocked the mover", () => {
    const b = bench();
    b.store.blocks.add("hans", "yoda");
    const h = b.online("hans");
    const y = b.online("yoda");
    expect(b.out.take(h)).toEqual([pres("yoda", "in")]);
    b.hub.disconnect(y);
    expect(b.out.take(h)).toEqual([pres("yoda", "out")]);
  });

  test("failed logins announce nothing", () => {
    const b = bench();
    const h = b.online("hans");
    const s = b.greeted();
    b.login(s, "yoda", "bad");
    b.login(s, "nobody", "x");
    b.hub.disconnect(s);
    b.quiet(h);
  });
});

describe("inactivity timeout", () => {
  test("after timeoutMs without a command: kicked{timeout}, closed, the others see presence out", () => {
    const b = bench();
    const h = b.online("hans");
    b.clock.advance(30_000);
    const y = b.online("yoda");
    expect(b.out.take(h)).toEqual([pres("yoda", "in")]);
    b.clock.advance(CFG.timeoutMs - 30_000 - 1);
    expect(b.out.take(h)).toEqual([]);
    expect(b.out.closed.has(h)).toBe(false);
    b.clock.advance(1);
    expect(b.out.take(h)).toEqual([{ t: "kicked", reason: "timeout" }]);
    expect(b.out.closed.has(h)).toBe(true);
    expect(b.out.take(y)).toEqual([pres("hans", "out")]);
    expect(b.whoelse(y)).toEqual([]);
    // Nothing more happens when the transport reports the close.
    b.hub.disconnect(h);
    b.quiet(y);
    // Yoda's clock is her own: her whoelse just now restarted it.
    b.clock.advance(CFG.timeoutMs - 1);
    b.quiet(y);
    b.clock.advance(1);
    expect(b.out.take(y)).toEqual([{ t: "kicked", reason: "timeout" }]);
  });

  const commands: [string, ClientMsg][] = [
    ["activity", { t: "activity" }],
    ["whoelse", { t: "whoelse", id: 1 }],
    ["whoelsesince", { t: "whoelsesince", id: 1, seconds: 5 }],
    ["a failing message", { t: "message", id: 1, to: "nobody", text: "x" }],
    ["a failing block", { t: "block", id: 1, user: "hans" }],
    ["broadcast", { t: "broadcast", id: 1, text: "x" }],
    ["peer_request", { t: "peer_request", id: 1, user: "luke" }],
  ];
  for (const [name, cmd] of commands) {
    test(`any command resets the timer: ${name}`, () => {
      const b = bench();
      const h = b.online("hans");
      b.clock.advance(50_000);
      b.hub.receive(h, cmd);
      b.out.take(h);
      b.clock.advance(CFG.timeoutMs - 1);
      expect(b.out.take(h)).toEqual([]);
      expect(b.out.closed.has(h)).toBe(false);
      b.clock.advance(1);
      expect(b.out.take(h)).toEqual([{ t: "kicked", reason: "timeout" }]);
    });
  }

  test("activity gets no reply", () => {
    const b = bench();
    const h = b.online("hans");
    b.hub.receive(h, { t: "activity" });
    expect(b.out.take(h)).toEqual([]);
  });

  test("a timed-out user can log in again, and is offline meanwhile (messages are stored)", () => {
    const b = bench();
    const y = b.online("yoda");
    b.online("hans");
    b.clock.advance(CFG.timeoutMs - 1);
    b.hub.receive(y, { t: "activity" });
    b.clock.advance(1);
    b.out.take(y);
    expect(b.ask(y, { t: "message", to: "hans", text: "wake up" })).toEqual({ code: "stored" });
    const h = b.greeted();
    expect(b.login(h, "hans", "falcon")).toEqual([result("ok", "hans"), msg("yoda", "wake up", "offline")]);
  });

  test("requests on a timed-out link are ignored", () => {
    const b = bench();
    const h = b.online("hans");
    b.clock.advance(CFG.timeoutMs);
    b.out.take(h);
    b.hub.receive(h, { t: "whoelse", id: 1 });
    b.hub.receive(h, { t: "message", id: 2, to: "yoda", text: "x" });
    expect(b.out.take(h)).toEqual([]);
    expect(b.store.mailbox.count("yoda")).toBe(0);
  });
});

describe("inactivity timeout (receiving)", () => {
  test("receiving messages does not reset the timer: kicked timeoutMs after the last command", () => {
    const b = bench();
    const h = b.online("hans");
    const y = b.online("yoda");
    b.out.take(h);
    for (let i = 1; i <= 5; i++) {
      b.clock.advance(10_000);
      expect(b.ask(y, { t: "message", to: "hans", text: `m${i}` })).toEqual({ code: "ok" });
    }
    b.clock.advance(CFG.timeoutMs - 50_000 - 1);
    expect(b.out.closed.has(h)).toBe(false);
    b.clock.advance(1);
    expect(b.out.take(h)).toEqual([
      msg("yoda", "m1", "direct"),
      msg("yoda", "m2", "direct"),
      msg("yoda", "m3", "direct"),
      msg("yoda", "m4", "direct"),
      msg("yoda", "m5", "direct"),
      { t: "kicked", reason: "timeout" },
    ]);
    expect(b.out.closed.has(h)).toBe(true);
    expect(b.out.closed.has(y)).toBe(false);
    expect(b.out.take(y)).toEqual([pres("hans", "out")]);
  });
});

describe("logout and disconnect", () => {
  test("logout: reply bye, closed, the others see presence out, no timeout later", () => {
    const b = bench();
    const h = b.online("hans");
    const y = b.online("yoda");
    b.out.take(h);
    expect(b.ask(h, { t: "logout" })).toEqual({ code: "bye" });
    expect(b.out.closed.has(h)).toBe(true);
    expect(b.out.take(y)).toEqual([pres("hans", "out")]);
    expect(b.hub.presence.isOnline("hans")).toBe(false);
    b.hub.disconnect(h);
    b.quiet(y); // not announced twice
    b.clock.advance(CFG.timeoutMs);
    expect(b.out.take(h)).toEqual([]); // no kick after logout
  });

  test("requests after logout are ignored", () => {
    const b = bench();
    const h = b.online("hans");
    b.ask(h, { t: "logout" });
    b.hub.receive(h, { t: "broadcast", id: 5, text: "ghost" });
    expect(b.out.take(h)).toEqual([]);
  });

  test("disconnect without logout: the others see presence out; the user may log in again", () => {
    const b = bench();
    const h = b.online("hans");
    const y = b.online("yoda");
    b.out.take(h);
    b.hub.disconnect(h);
    expect(b.out.take(y)).toEqual([pres("hans", "out")]);
    expect(b.hub.presence.isOnline("hans")).toBe(false);
    expect(b.ask(y, { t: "message", to: "hans", text: "later" })).toEqual({ code: "stored" });
    b.hub.disconnect(h); // twice is harmless
    b.quiet(y);
    // Hans's inactivity timer would fire at timeoutMs after his login: it must be gone.
    b.clock.advance(CFG.timeoutMs - 1);
    b.hub.receive(y, { t: "activity" });
    b.clock.advance(1);
    expect(b.out.take(h)).toEqual([]);
    b.quiet(y);
    const h2 = b.greeted();
    expect(b.login(h2, "hans", "falcon")).toEqual([result("ok", "hans"), msg("yoda", "later", "offline")]);
    expect(b.out.take(y)).toEqual([pres("hans", "in")]);
  });

  test("disconnect before login announces nothing and cancels the pre-login timer", () => {
    const b = bench();
    const y = b.online("yoda");
    const s = b.greeted();
    b.hub.disconnect(s);
    b.clock.advance(CFG.preLoginMs);
    expect(b.out.take(s)).toEqual([]);
    b.quiet(y);
    b.hub.disconnect(12345); // unknown sid: no-op
  });
});

describe("peer_request and peer_check", () => {
  function peers() {
    const b = bench();
    const h = b.online("hans", { host: "10.0.0.1", peerPort: 5000 });
    const y = b.online("yoda", { host: "10.0.0.2", peerPort: 6000 });
    const l = b.online("luke", { host: "10.0.0.3", peerPort: 7000 });
    for (const s of [h, y, l]) b.out.take(s);
    return { b, h, y, l };
  }
  const token = (r: { token?: string }) => {
    expect(typeof r.token).toBe("string");
    return r.token!;
  };

  test("invalid_user, self, offline", () => {
    const { b, h } = peers();
    expect(b.ask(h, { t: "peer_request", user: "nobody" })).toEqual({ code: "invalid_user", user: "nobody" });
    expect(b.ask(h, { t: "peer_request", user: "hans" })).toEqual({ code: "self", user: "hans" });
    expect(b.ask(h, { t: "peer_request", user: "r2d2" })).toEqual({ code: "offline", user: "r2d2" });
  });

  test("a user online without a peer port is offline for peering", () => {
    const { b, h } = peers();
    b.online("vader");
    b.out.take(h);
    expect(b.ask(h, { t: "peer_request", user: "vader" })).toEqual({ code: "offline", user: "vader" });
  });

  test("blocked_you, with no address or token given out", () => {
    const { b, h, y } = peers();
    b.ask(y, { t: "block", user: "hans" });
    expect(b.ask(h, { t: "peer_request", user: "yoda" })).toEqual({ code: "blocked_you", user: "yoda" });
    b.quiet(y);
  });

  test("peer: the address as the server saw it, the peer port from login, and a fresh token", () => {
    const { b, h, y } = peers();
    const r = b.ask(h, { t: "peer_request", user: "yoda" });
    const t1 = token(r);
    expect(r).toEqual({ code: "peer", user: "yoda", host: "10.0.0.2", port: 6000, token: t1 });
    expect(t1.length).toBeGreaterThanOrEqual(16);
    const t2 = token(b.ask(h, { t: "peer_request", user: "yoda" }));
    expect(t2).not.toBe(t1);
    b.quiet(y); // the callee is not told until the caller connects
  });

  test("peer_check: token_ok once for the right caller and callee, then token_bad on replay", () => {
    const { b, h, y } = peers();
    const t = token(b.ask(h, { t: "peer_request", user: "yoda" }));
    expect(b.ask(y, { t: "peer_check", user: "hans", token: t })).toEqual({ code: "token_ok", user: "hans" });
    expect(b.ask(y, { t: "peer_check", user: "hans", token: t })).toEqual({ code: "token_bad", user: "hans" });
  });

  test("peer_check: a wrong caller name gets token_bad and spends the token", () => {
    const { b, h, y } = peers();
    const t = token(b.ask(h, { t: "peer_request", user: "yoda" }));
    expect(b.ask(y, { t: "peer_check", user: "luke", token: t })).toEqual({ code: "token_bad", user: "luke" });
    expect(b.ask(y, { t: "peer_check", user: "hans", token: t })).toEqual({ code: "token_bad", user: "hans" });
  });

  test("peer_check: a token issued for another callee is token_bad", () => {
    const { b, h, l } = peers();
    const t = token(b.ask(h, { t: "peer_request", user: "yoda" }));
    expect(b.ask(l, { t: "peer_check", user: "hans", token: t })).toEqual({ code: "token_bad", user: "hans" });
  });

  test("peer_check: an unknown token is token_bad", () => {
    const { b, y } = peers();
    expect(b.ask(y, { t: "peer_check", user: "hans", token: "made-up" })).toEqual({ code: "token_bad", user: "hans" });
    expect(b.ask(y, { t: "peer_check", user: "hans", token: "" })).toEqual({ code: "token_bad", user: "hans" });
  });

  test("peer_check: a token is good up to TOKEN_TTL_MS after issue, not after", () => {
    const { b, h, y } = peers();
    const early = token(b.ask(h, { t: "peer_request", user: "yoda" }));
    const late = token(b.ask(h, { t: "peer_request", user: "yoda" }));
    b.clock.advance(TOKEN_TTL_MS);
    expect(b.ask(y, { t: "peer_check", user: "hans", token: early })).toEqual({ code: "token_ok", user: "hans" });
    b.clock.advance(1);
    expect(b.ask(y, { t: "peer_check", user: "hans", token: late })).toEqual({ code: "token_bad", user: "hans" });
  });
});

// The transport's close is graceful: until the socket is really gone, frames the client
// had already sent still arrive. A session the hub has closed must ignore them.
describe("frames arriving after the hub closed the session", () => {
  test("a login racing the pre-login timeout is ignored, and the mailbox is not emptied into a closing link", () => {
    const b = bench();
    const y = b.online("yoda");
    b.ask(y, { t: "message", to: "hans", text: "keep me" });
    const s = b.connect();
    b.clock.advance(CFG.preLoginMs);
    expect(b.out.take(s)).toEqual([{ t: "error", code: "login_timeout", detail: "no login in time" }]);
    b.hub.receive(s, { t: "hello", v: 1, app: "termchat" });
    b.hub.receive(s, { t: "login", user: "hans", pass: "falcon" });
    expect(b.out.take(s)).toEqual([]);
    expect(b.hub.presence.isOnline("hans")).toBe(false);
    expect(b.store.mailbox.count("hans")).toBe(1);
    b.quiet(y);
    b.hub.disconnect(s);
    const h = b.greeted();
    expect(b.login(h, "hans", "falcon")).toEqual([result("ok", "hans"), msg("yoda", "keep me", "offline")]);
  });

  test("logins after maxLoginAttempts closed the link are ignored", () => {
    const b = bench();
    const sid = b.greeted();
    for (let i = 0; i < CFG.maxLoginAttempts; i++) b.login(sid, "nobody", "x");
    expect(b.out.closed.has(sid)).toBe(true);
    expect(b.login(sid, "hans", "falcon")).toEqual([]);
    expect(b.hub.presence.isOnline("hans")).toBe(false);
  });

  test("a hello after a version error, or after a violation, is ignored", () => {
    const b = bench();
    const s1 = b.connect();
    b.hub.receive(s1, { t: "hello", v: 3, app: "termchat" });
    b.out.take(s1);
    b.hub.receive(s1, { t: "hello", v: 1, app: "termchat" });
    expect(b.out.take(s1)).toEqual([]);
    const s2 = b.connect();
    b.hub.violation(s2, "garbage");
    b.out.take(s2);
    b.hub.receive(s2, { t: "hello", v: 1, app: "termchat" });
    expect(b.out.take(s2)).toEqual([]);
  });

  test("after a violation by a logged-in user, further requests are ignored; disconnect still logs out", () => {
    const b = bench();
    const y = b.online("yoda");
    const h = b.online("hans");
    b.out.take(y);
    b.hub.violation(h, "bad frame");
    b.out.take(h);
    b.hub.receive(h, { t: "message", id: 1, to: "yoda", text: "sneaky" });
    b.hub.receive(h, { t: "broadcast", id: 2, text: "sneaky" });
    expect(b.out.take(h)).toEqual([]);
    b.quiet(y);
    b.hub.disconnect(h);
    expect(b.out.take(y)).toEqual([pres("hans", "out")]);
    expect(b.hub.presence.isOnline("hans")).toBe(false);
  });
});

describe("peer tokens stay bounded", () => {
  test("a flood of grants forgets the oldest, never grows past the cap", () => {
    const tokens = new PeerTokens(new ManualClock());
    const first = tokens.issue("a", "b");
    for (let i = 0; i < MAX_TOKENS; i++) tokens.issue("a", "b");
    expect((tokens as any).grants.size).toBe(MAX_TOKENS);
    expect(tokens.redeem(first, "a", "b")).toBe(false);
    const last = tokens.issue("a", "b");
    expect(tokens.redeem(last, "a", "b")).toBe(true);
  });
});
