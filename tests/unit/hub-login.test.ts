/** The hub (src/server/hub.ts), before a session is in: hello and the version check, every login_result code, the per-username lockout, the pre-login limits. */
import { describe, expect, test } from "bun:test";
import type { ClientMsg, LOGIN_CODES } from "../../src/protocol/messages.ts";
import { CFG, checkedBenches, msg, pres, result } from "./hubkit.ts";

const bench = checkedBenches();

describe("hello", () => {
  test("the right version gets hello_ok and the link stays open", () => {
    const b = bench();
    const sid = b.connect();
    b.hub.receive(sid, { t: "hello", v: 1, app: "termchat" });
    expect(b.out.take(sid)).toEqual([{ t: "hello_ok", v: 1, maxFrame: 65536 }]);
    expect(b.out.closed.has(sid)).toBe(false);
  });

  for (const v of [0, 4, 99]) {
    test(`version ${v} gets error "version" and the link is closed`, () => {
      const b = bench();
      const sid = b.connect();
      b.hub.receive(sid, { t: "hello", v, app: "termchat" });
      expect(b.out.take(sid)).toEqual([{ t: "error", code: "version", detail: "server speaks versions 1, 2, 3" }]);
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
