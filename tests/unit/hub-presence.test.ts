/** The hub (src/server/hub.ts): who is online (whoelse, whoelsesince and its window) and the logged in / logged out announcements, each with blocking applied. */
import { describe, expect, test } from "bun:test";
import { NOTICE_WINDOW_MS } from "../../src/server/notice-batch.ts";
import { CFG, checkedBenches, PASS, pres, result } from "./hubkit.ts";

const bench = checkedBenches();

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

  test("a window's notices go out at its end, one run per user, each user's as if sent one by one", () => {
    const b = bench();
    b.store.blocks.add("vader", "hans");
    const h = b.online("hans");
    const [y, l, v] = [b.greeted(), b.greeted(), b.greeted()];
    const runs = b.out.runs;
    // Read nothing until the window ends (reading would end it: hubkit's settle).
    b.hub.receive(y, { t: "login", user: "yoda", pass: PASS.get("yoda")! });
    b.hub.receive(l, { t: "login", user: "luke", pass: PASS.get("luke")! });
    b.online("r2d2"); // read: the window ends here (twice: before and after r2d2's login)
    const after = b.out.runs;
    expect(after).toBeGreaterThan(runs);
    b.hub.receive(v, { t: "login", user: "vader", pass: PASS.get("vader")! });
    // Yoda is sent what it has pending (vader's login) before its bye: one run now.
    b.hub.receive(y, { t: "logout", id: 2 });
    b.clock.advance(NOTICE_WINDOW_MS - 1);
    expect(b.out.runs).toBe(after + 1);
    b.clock.advance(1);
    // The rest at the window's end, one run each: hans (yoda's logout; vader blocks hans),
    // luke and r2d2 (vader's login, yoda's logout), vader (yoda's logout).
    expect(b.out.runs).toBe(after + 5);
    expect(b.out.take(h)).toEqual([pres("yoda", "in"), pres("luke", "in"), pres("r2d2", "in"), pres("yoda", "out")]);
    expect(b.out.take(y)).toEqual([result("ok", "yoda"), pres("luke", "in"), pres("r2d2", "in"), pres("vader", "in"), { t: "reply", id: 2, code: "bye" }]);
    expect(b.out.take(l)).toEqual([result("ok", "luke"), pres("r2d2", "in"), pres("vader", "in"), pres("yoda", "out")]);
    expect(b.out.take(v)).toEqual([result("ok", "vader"), pres("yoda", "out")]);
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
