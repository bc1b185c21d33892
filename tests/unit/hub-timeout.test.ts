/** The hub (src/server/hub.ts): the inactivity timeout (what counts as activity, what the timed-out user and the others see). */
import { describe, expect, test } from "bun:test";
import type { ClientMsg } from "../../src/protocol/messages.ts";
import { CFG, checkedBenches, msg, pres, result } from "./hubkit.ts";

const bench = checkedBenches();

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

// A session has one timer: the pre-login limit, then the inactivity deadline. A
// login keeps the pending pre-login timer if it falls due first (it re-arms then).
describe("inactivity timeout after the pre-login limit", () => {
  for (const [name, timeoutMs, preLoginMs] of [
    ["timeout longer than the pre-login limit", 60_000, 5_000],
    ["timeout shorter than the pre-login limit", 2_000, 5_000],
  ] as const) {
    test(`${name}: the deadline counts from the login, not from connect`, () => {
      const b = bench({ timeoutMs, preLoginMs });
      const sid = b.greeted();
      b.clock.advance(preLoginMs - 10);
      expect(b.login(sid, "hans", "falcon")).toEqual([result("ok", "hans")]);
      // The pre-login limit passes: nothing happens.
      b.clock.advance(10);
      b.quiet(sid);
      expect(b.out.closed.has(sid)).toBe(false);
      b.clock.advance(timeoutMs - 10 - 1);
      b.quiet(sid);
      expect(b.out.closed.has(sid)).toBe(false);
      b.clock.advance(1);
      expect(b.out.take(sid)).toEqual([{ t: "kicked", reason: "timeout" }]);
      expect(b.out.closed.has(sid)).toBe(true);
    });

    test(`${name}: a command right after the login moves the deadline`, () => {
      const b = bench({ timeoutMs, preLoginMs });
      const sid = b.greeted();
      expect(b.login(sid, "hans", "falcon")).toEqual([result("ok", "hans")]);
      b.clock.advance(timeoutMs - 1);
      b.hub.receive(sid, { t: "activity" });
      b.clock.advance(timeoutMs - 1);
      b.quiet(sid);
      expect(b.out.closed.has(sid)).toBe(false);
      b.clock.advance(1);
      expect(b.out.take(sid)).toEqual([{ t: "kicked", reason: "timeout" }]);
    });
  }
});
