/**
 * Presence notices in windows (src/server/notice-batch.ts): what each session gets
 * must be exactly what sending every notice at once would have given it, in the same
 * order with everything else, only later and in fewer sends.
 */
import { describe, expect, test } from "bun:test";
import { ManualClock } from "../../src/common/clock.ts";
import type { ServerMsg } from "../../src/protocol/messages.ts";
import { NOTICE_WINDOW_MS, NoticeBatch } from "../../src/server/notice-batch.ts";
import { FakeOutbox, msg, pres } from "./hubkit.ts";
import { prng } from "./prng.ts";

function setup() {
  const clock = new ManualClock();
  const out = new FakeOutbox();
  const batch = new NoticeBatch(out, clock);
  return { clock, out, batch };
}

const hi = msg("yoda", "hi", "direct");

describe("the window", () => {
  test("notices wait for the window's end, then each member gets its notices in one run", () => {
    const { clock, out, batch } = setup();
    for (const sid of [1, 2, 3]) batch.join(sid);
    batch.announce(pres("hans", "in"), [1]);
    batch.announce(pres("yoda", "in"), [2]);
    batch.announce(pres("luke", "in"), [3]);
    clock.advance(NOTICE_WINDOW_MS - 1);
    for (const sid of [1, 2, 3]) expect(out.take(sid)).toEqual([]);
    expect(batch.pending).toBe(3);
    clock.advance(1);
    expect(batch.pending).toBe(0);
    // A member's own notice at either end of its part leaves one run; yoda's (sid 2),
    // between hans's and luke's, splits it in two.
    expect(out.take(1)).toEqual([pres("yoda", "in"), pres("luke", "in")]);
    expect(out.take(2)).toEqual([pres("hans", "in"), pres("luke", "in")]);
    expect(out.take(3)).toEqual([pres("hans", "in"), pres("yoda", "in")]);
    expect(out.runs).toBe(4);
  });

  test("1 000 notices to 1 000 members are 1 000 runs, not a million sends", () => {
    const { clock, out, batch } = setup();
    for (let sid = 1; sid <= 1000; sid++) batch.join(sid);
    for (let i = 0; i < 1000; i++) batch.announce(pres(`u${i}`, "in"), [5000 + i]);
    clock.advance(NOTICE_WINDOW_MS);
    expect(out.runs).toBe(1000);
    expect(out.take(500).length).toBe(1000);
  });

  test("the next window starts after the first: its notices come later, in order", () => {
    const { clock, out, batch } = setup();
    batch.join(1);
    batch.announce(pres("hans", "in"), []);
    clock.advance(NOTICE_WINDOW_MS);
    batch.announce(pres("hans", "out"), []);
    batch.announce(pres("yoda", "in"), []);
    clock.advance(NOTICE_WINDOW_MS / 2);
    expect(out.take(1)).toEqual([pres("hans", "in")]);
    clock.advance(NOTICE_WINDOW_MS / 2);
    expect(out.take(1)).toEqual([pres("hans", "out"), pres("yoda", "in")]);
  });

  test("flush() ends the window early; the timer then finds nothing to send", () => {
    const { clock, out, batch } = setup();
    batch.join(1);
    batch.announce(pres("hans", "in"), []);
    batch.flush();
    expect(out.take(1)).toEqual([pres("hans", "in")]);
    clock.advance(NOTICE_WINDOW_MS);
    expect(out.take(1)).toEqual([]);
    expect(out.runs).toBe(1);
  });
});

describe("who gets what", () => {
  test("a member that joined mid-window does not get the notices before it joined", () => {
    const { clock, out, batch } = setup();
    batch.join(1);
    batch.announce(pres("hans", "in"), []);
    batch.join(2);
    batch.announce(pres("yoda", "in"), [2]); // its own login
    batch.announce(pres("luke", "in"), []);
    clock.advance(NOTICE_WINDOW_MS);
    expect(out.take(1)).toEqual([pres("hans", "in"), pres("yoda", "in"), pres("luke", "in")]);
    expect(out.take(2)).toEqual([pres("luke", "in")]);
  });

  test("an excepted member (blocked by the announcer) misses that notice only, the rest in order", () => {
    const { clock, out, batch } = setup();
    batch.join(1);
    batch.announce(pres("hans", "in"), []);
    batch.announce(pres("vader", "in"), [1, 1, 99]); // repeats and non-members are harmless
    batch.announce(pres("luke", "in"), []);
    batch.announce(pres("vader", "out"), [1]);
    batch.announce(pres("yoda", "in"), []);
    clock.advance(NOTICE_WINDOW_MS);
    expect(out.take(1)).toEqual([pres("hans", "in"), pres("luke", "in"), pres("yoda", "in")]);
    expect(out.runs).toBe(3);
  });

  test("a member that leaves is sent what it had pending at once, then nothing more", () => {
    const { clock, out, batch } = setup();
    batch.join(1);
    batch.join(2);
    batch.announce(pres("hans", "in"), [3]);
    batch.leave(2);
    expect(out.peek(2)).toEqual([pres("hans", "in")]);
    batch.announce(pres("luke", "out"), []);
    clock.advance(NOTICE_WINDOW_MS);
    expect(out.take(1)).toEqual([pres("hans", "in"), pres("luke", "out")]);
    expect(out.take(2)).toEqual([pres("hans", "in")]);
  });

  test("a session that logs out and in again hears only what follows its new login", () => {
    const { clock, out, batch } = setup();
    batch.join(1);
    batch.announce(pres("hans", "in"), []);
    batch.leave(1);
    batch.announce(pres("yoda", "in"), []);
    batch.join(2);
    batch.announce(pres("luke", "in"), [2]);
    batch.announce(pres("vader", "in"), []);
    clock.advance(NOTICE_WINDOW_MS);
    expect(out.take(1)).toEqual([pres("hans", "in")]);
    expect(out.take(2)).toEqual([pres("vader", "in")]);
  });
});

describe("order with everything else", () => {
  test("a message to a member mid-window goes after the notices before it, before those after it", () => {
    const { clock, out, batch } = setup();
    batch.join(1);
    batch.join(2);
    batch.announce(pres("hans", "in"), []);
    batch.send(1, hi);
    batch.announce(pres("luke", "in"), []);
    expect(out.peek(1)).toEqual([pres("hans", "in"), hi]);
    expect(out.peek(2)).toEqual([]);
    clock.advance(NOTICE_WINDOW_MS);
    expect(out.take(1)).toEqual([pres("hans", "in"), hi, pres("luke", "in")]);
    expect(out.take(2)).toEqual([pres("hans", "in"), pres("luke", "in")]);
  });

  test("sendMany and sendRun send each recipient's pending notices first", () => {
    const { out, batch } = setup();
    batch.join(1);
    batch.join(2);
    batch.announce(pres("hans", "in"), [2]);
    batch.sendMany([1, 2, 3], hi);
    expect(out.take(1)).toEqual([pres("hans", "in"), hi]);
    expect(out.take(2)).toEqual([hi]);
    expect(out.take(3)).toEqual([hi]);
    batch.announce(pres("yoda", "in"), []);
    const other: ServerMsg[] = [pres("luke", "out")];
    batch.sendRun(2, other, 0, 1);
    expect(out.take(2)).toEqual([pres("yoda", "in"), pres("luke", "out")]);
  });

  test("close sends what is pending first, then nothing more reaches the session", () => {
    const { clock, out, batch } = setup();
    batch.join(1);
    batch.join(2);
    batch.announce(pres("hans", "in"), []);
    batch.close(1);
    batch.announce(pres("yoda", "in"), []);
    clock.advance(NOTICE_WINDOW_MS);
    expect(out.take(1)).toEqual([pres("hans", "in")]);
    expect(out.closed.has(1)).toBe(true);
    expect(out.afterClose).toEqual([]);
    expect(out.take(2)).toEqual([pres("hans", "in"), pres("yoda", "in")]);
  });

  test("whenDrained passes through", () => {
    const { out, batch } = setup();
    let called = 0;
    batch.whenDrained(7, () => called++);
    expect(out.drainPending(7)).toBe(1);
    out.drain(7);
    expect(called).toBe(1);
  });
});

/**
 * Random sequences of joins, leaves, notices, messages, closes and clock steps: every
 * session's sends must equal those of a reference that sends each notice at once to
 * every member but the excepted ones.
 */
describe("against sending each notice at once", () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    test(`seed ${seed}`, () => {
      const r = prng(seed);
      const { clock, out, batch } = setup();
      const want = new Map<number, ServerMsg[]>();
      const members = new Set<number>();
      const closed = new Set<number>();
      const got = (sid: number, m: ServerMsg) => {
        if (!want.has(sid)) want.set(sid, []);
        want.get(sid)!.push(m);
      };
      let nextSid = 1;
      let n = 0;
      const join = () => {
        const sid = nextSid++;
        batch.join(sid);
        members.add(sid);
      };
      join();
      // Any session joined so far, logged in or not, or one more that never joins.
      const any = () => r.int(1, nextSid - 1) + (r.int(0, 9) === 0 ? 1000 : 0);
      for (let step = 0; step < 3000; step++) {
        const op = r.int(0, 99);
        if (op < 15) {
          join();
        } else if (op < 22) {
          const sid = any();
          batch.leave(sid);
          members.delete(sid);
        } else if (op < 70) {
          const except = Array.from({ length: r.int(0, 3) }, any);
          const m = pres(`u${n++}`, r.int(0, 1) ? "in" : "out");
          batch.announce(m, except);
          for (const sid of members) if (!except.includes(sid)) got(sid, m);
        } else if (op < 80) {
          const sid = any();
          const m = msg("x", `m${n++}`, "direct");
          if (!closed.has(sid)) {
            batch.send(sid, m);
            got(sid, m);
          }
        } else if (op < 85) {
          const sids = [any(), any()].filter((s, i, a) => a.indexOf(s) === i && !closed.has(s));
          const m = msg("x", `b${n++}`, "broadcast");
          batch.sendMany(sids, m);
          for (const sid of sids) got(sid, m);
        } else if (op < 88) {
          const sid = any();
          if (!closed.has(sid)) {
            batch.close(sid);
            closed.add(sid);
            members.delete(sid);
          }
        } else {
          clock.advance(r.int(1, NOTICE_WINDOW_MS));
        }
      }
      clock.advance(NOTICE_WINDOW_MS);
      expect(out.afterClose).toEqual([]);
      for (const sid of new Set([...want.keys(), ...Array.from({ length: nextSid }, (_, i) => i + 1)])) expect({ sid, got: out.take(sid) }).toEqual({ sid, got: want.get(sid) ?? [] });
    });
  }
});
