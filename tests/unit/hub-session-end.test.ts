/** The hub (src/server/hub.ts): how a session ends (logout, disconnect) and that frames arriving after the hub closed a session are ignored. */
import { describe, expect, test } from "bun:test";
import { CFG, checkedBenches, msg, pres, result } from "./hubkit.ts";

const bench = checkedBenches();

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
    b.hub.receive(s1, { t: "hello", v: 4, app: "termchat" });
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
