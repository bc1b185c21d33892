/**
 * The swarm download scheduler (src/client/files/scheduler.ts): rarest first,
 * spread across peers, per-peer and total caps, retries elsewhere, liars and lost
 * links, refreshed holders; and a randomised run that must always end.
 */
import { describe, expect, test } from "bun:test";
import { Scheduler, type Assignment, type Outcome } from "../../src/client/files/scheduler.ts";
import { prng } from "./prng.ts";

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const holders = (spec: Record<string, number[]>) => new Map(Object.entries(spec).map(([p, cs]) => [p, new Set(cs)]));

/** Take every assignment the scheduler offers right now. */
function drain(s: Scheduler): Assignment[] {
  const out: Assignment[] = [];
  for (let a = s.next(); a; a = s.next()) out.push(a);
  return out;
}

describe("Scheduler", () => {
  test("rarest chunk first: chunks only one peer holds go before chunks two peers hold", () => {
    const s = new Scheduler(range(1, 10), holders({ hans: range(1, 10), luke: [1, 2, 3] }), { maxPerPeer: 2 });
    const first = drain(s);
    // hans gets two of the rare chunks (4..10, lowest first); luke the common ones.
    expect(first).toEqual([
      { chunk: 4, peer: "hans" },
      { chunk: 5, peer: "hans" },
      { chunk: 1, peer: "luke" },
      { chunk: 2, peer: "luke" },
    ]);
  });

  test("spread: with equal holders, every peer gets a chunk before any gets a second", () => {
    const s = new Scheduler(range(1, 9), holders({ a: range(1, 9), b: range(1, 9), c: range(1, 9) }), { maxPerPeer: 3, maxInFlight: 9 });
    const got = drain(s);
    expect(got.slice(0, 3).map((a) => a.peer).sort()).toEqual(["a", "b", "c"]);
    expect(got.slice(3, 6).map((a) => a.peer).sort()).toEqual(["a", "b", "c"]);
    expect(got.length).toBe(9);
  });

  test("never everything from one peer when others hold chunks, even when one peer is faster", () => {
    const s = new Scheduler(range(1, 10), holders({ fast: range(1, 10), slow: range(1, 10) }), { maxPerPeer: 1 });
    const [a, b] = drain(s);
    expect([a!.peer, b!.peer].sort()).toEqual(["fast", "slow"]);
    const slowOne = a!.peer === "slow" ? a! : b!;
    let fastOne = a!.peer === "fast" ? a! : b!;
    // "fast" finishes chunk after chunk while "slow" is still on its first.
    for (let i = 0; i < 8; i++) {
      s.report(fastOne, "ok");
      fastOne = s.next()!;
      expect(fastOne.peer).toBe("fast");
    }
    s.report(fastOne, "ok");
    s.report(slowOne, "ok");
    expect(s.complete).toBe(true);
  });

  test("caps: at most maxPerPeer per peer and maxInFlight in all", () => {
    const s = new Scheduler(range(1, 20), holders({ a: range(1, 20), b: range(1, 20), c: range(1, 20) }), { maxPerPeer: 2, maxInFlight: 5 });
    const got = drain(s);
    expect(got.length).toBe(5);
    for (const p of ["a", "b", "c"]) expect(got.filter((x) => x.peer === p).length).toBeLessThanOrEqual(2);
    expect(s.next()).toBeNull();
    s.report(got[0]!, "ok");
    expect(s.next()).not.toBeNull();
  });

  test("a chunk the peer does not have is retried elsewhere, and not asked of that peer again", () => {
    const s = new Scheduler([1], holders({ a: [1], b: [1] }), { maxPerPeer: 1 });
    const first = s.next()!;
    s.report(first, "not_held");
    const second = s.next()!;
    expect(second).toEqual({ chunk: 1, peer: first.peer === "a" ? "b" : "a" });
    s.report(second, "ok");
    expect(s.complete).toBe(true);
  });

  test("a peer that sent bad data is never asked again, for any chunk, even after a refresh", () => {
    const s = new Scheduler([1, 2, 3], holders({ liar: [1, 2, 3], good: [1, 2, 3] }), { maxPerPeer: 3 });
    const got = drain(s);
    for (const a of got) s.report(a, a.peer === "liar" ? "verify" : "ok");
    s.setHolders(holders({ liar: [1, 2, 3], good: [1, 2, 3] }));
    const again = drain(s);
    expect(again.every((a) => a.peer === "good")).toBe(true);
    for (const a of again) s.report(a, "ok");
    expect(s.complete).toBe(true);
    expect(s.badPeers()).toEqual(["liar"]);
  });

  test("a peer whose link failed is out until a refresh lists it again", () => {
    const s = new Scheduler([1, 2], holders({ a: [1, 2] }), { maxPerPeer: 2 });
    const got = drain(s);
    for (const a of got) s.report(a, "gone");
    expect(s.next()).toBeNull();
    expect(s.idle).toBe(true);
    expect(s.waiting).toBe(true);
    expect(s.complete).toBe(false);
    s.setHolders(holders({ a: [1, 2] }));
    const again = drain(s);
    expect(again.length).toBe(2);
    for (const a of again) s.report(a, "ok");
    expect(s.complete).toBe(true);
  });

  test("a chunk nobody holds waits; a refresh with a new holder unblocks it", () => {
    const s = new Scheduler([1, 2], holders({ a: [1] }));
    const [a] = drain(s);
    expect(a).toEqual({ chunk: 1, peer: "a" });
    s.report(a!, "ok");
    expect(s.idle).toBe(true);
    expect(s.missing()).toEqual([2]);
    s.setHolders(holders({ a: [1], b: [2] }));
    const b = s.next()!;
    expect(b).toEqual({ chunk: 2, peer: "b" });
    s.report(b, "ok");
    expect(s.complete).toBe(true);
  });

  test("a chunk is abandoned after maxAttempts failures", () => {
    const s = new Scheduler([1], holders({ a: [1], b: [1], c: [1] }), { maxAttempts: 2 });
    s.report(s.next()!, "busy");
    s.report(s.next()!, "busy");
    expect(s.next()).toBeNull();
    expect(s.waiting).toBe(false);
    expect(s.missing()).toEqual([1]);
    expect(s.complete).toBe(false);
  });

  test("reporting something that is not in flight is a bug", () => {
    const s = new Scheduler([1], holders({ a: [1] }));
    expect(() => s.report({ chunk: 1, peer: "a" }, "ok")).toThrow();
  });

  test("randomised: whatever the outcomes, every run ends with each chunk fetched or abandoned, caps always held", () => {
    const outcomes: Outcome[] = ["ok", "ok", "ok", "ok", "not_held", "busy", "verify", "gone"];
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = prng(seed).next;
      const n = 1 + Math.floor(rnd() * 30);
      const peers = Array.from({ length: 1 + Math.floor(rnd() * 5) }, (_, i) => `p${i}`);
      const spec: Record<string, number[]> = {};
      for (const p of peers) spec[p] = range(1, n).filter(() => rnd() < 0.7);
      const s = new Scheduler(range(1, n), holders(spec), { maxPerPeer: 2, maxInFlight: 6, maxAttempts: 4, random: rnd });
      const flying: Assignment[] = [];
      let steps = 0;
      for (; steps < 10_000; steps++) {
        flying.push(...drain(s));
        expect(flying.length).toBeLessThanOrEqual(6);
        for (const p of peers) expect(flying.filter((a) => a.peer === p).length).toBeLessThanOrEqual(2);
        if (flying.length === 0) break;
        const a = flying.splice(Math.floor(rnd() * flying.length), 1)[0]!;
        s.report(a, outcomes[Math.floor(rnd() * outcomes.length)]!);
      }
      expect(steps).toBeLessThan(10_000);
      expect(s.idle).toBe(true);
      const fetched = new Set(s.fetched());
      for (const c of s.missing()) expect(fetched.has(c)).toBe(false);
      expect(fetched.size + s.missing().length).toBe(n);
      // A chunk nobody held can only be missing.
      for (let c = 1; c <= n; c++) if (!peers.some((p) => spec[p]!.includes(c))) expect(fetched.has(c)).toBe(false);
    }
  });
});
