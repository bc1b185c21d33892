/**
 * The write queue (src/net/write-queue.ts) and its flush scheduler without
 * sockets: a fake kernel that takes as many bytes as it is told to, and flush
 * schedulers run by hand. Coalescing, order, partial writes, caps, "not
 * reading", the byte accounting and a socket gone (-1).
 */
import { describe, expect, test } from "bun:test";
import { FlushScheduler, type Defer } from "../../src/net/flush-scheduler.ts";
import { HELD_LIMIT, SMALL_MAX, TAIL_BYTES, TAILS_MAX, WriteQueue, type FrameFill, type WriteSink } from "../../src/net/write-queue.ts";
import { concat, prng } from "./prng.ts";

/** A deferral run by hand: run() calls what was deferred since the last run. */
function manualDefer(): { defer: Defer; run(): void; armed(): number } {
  let pending: (() => void)[] = [];
  return {
    defer: (f) => void pending.push(f),
    run() {
      const p = pending;
      pending = [];
      for (const f of p) f();
    },
    armed: () => pending.length,
  };
}

/**
 * A queue over a fake kernel. `room` is how many more bytes the kernel takes
 * (Infinity: all); `gone` makes write return -1. Every write is recorded (a copy,
 * as the kernel copies; `views` keeps the objects passed, to check for copying).
 */
function rig(o: { highWater?: number; maxQueued?: number; room?: number } = {}) {
  const soon = manualDefer();
  const k = { room: o.room ?? Infinity, gone: false, writes: [] as Uint8Array[], views: [] as Uint8Array[], fails: [] as string[] };
  const sink: WriteSink = {
    write(bytes) {
      if (k.gone) return -1;
      const n = Math.min(k.room, bytes.byteLength);
      k.room -= n;
      k.views.push(bytes);
      k.writes.push(new Uint8Array(bytes.subarray(0, n))); // a copy (a Buffer's slice() is a view)
      return n;
    },
    writeFailed: (why) => void k.fails.push(why),
  };
  const q = new WriteQueue(sink, {
    highWater: o.highWater ?? 1 << 20,
    maxQueued: o.maxQueued ?? 64 << 20,
    soon: new FlushScheduler<WriteQueue>(soon.defer, (x) => x.flush()),
  });
  return { q, k, soon, received: () => concat(k.writes) };
}

/** A FrameFill that writes the bytes it is given. */
const copyInto: FrameFill<Uint8Array> = (b, buf, at) => {
  buf.set(b, at);
  return b.byteLength;
};

let fill = 0;
/** Distinct bytes every call, so misordering or a stale scratch buffer shows. */
function bytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (fill + i * 7) & 0xff;
  fill += 13;
  return b;
}

describe("WriteQueue", () => {
  test("coalescing: many small sends leave in one write when the flush runs", () => {
    const { q, k, soon, received } = rig();
    const parts = Array.from({ length: 50 }, (_, i) => bytes(10 + i));
    for (const p of parts) expect(q.send(p)).toBe(true);
    expect(k.writes.length).toBe(0);
    expect(q.holdState).toBe("heldTurn");
    expect(soon.armed()).toBe(1); // one deferral for the lot
    soon.run();
    expect(k.writes.length).toBe(1);
    expect(received()).toEqual(concat(parts));
    expect(q.holdState).toBe("idle");
    expect(q.queuedBytes).toBe(0);
  });

  test("more than HELD_LIMIT of small sends is written as it goes, each write at most HELD_LIMIT", () => {
    const { q, k, soon, received } = rig();
    const parts = Array.from({ length: 40 }, () => bytes(SMALL_MAX - 1));
    for (const p of parts) q.send(p);
    soon.run();
    expect(k.writes.length).toBeGreaterThan(1);
    for (const w of k.writes) expect(w.byteLength).toBeLessThanOrEqual(HELD_LIMIT);
    expect(received()).toEqual(concat(parts));
  });

  test("a big send is written at once, uncopied, after what is held", () => {
    const { q, k, soon, received } = rig();
    const small = [bytes(100), bytes(200), bytes(300)];
    for (const s of small) q.send(s);
    const big = bytes(SMALL_MAX);
    expect(q.send(big)).toBe(true);
    expect(k.writes.length).toBe(2);
    expect(k.views[1]).toBe(big); // the caller's own bytes: no copy
    expect(received()).toEqual(concat([...small, big]));
    soon.run();
    expect(k.writes.length).toBe(2); // nothing left to flush
  });

  test("partial writes: the rest is queued, later sends wait behind it, onDrain writes all in order", () => {
    const { q, k, received } = rig({ room: 1000 });
    const big = bytes(100_000);
    q.send(big);
    expect(k.writes[0]!.byteLength).toBe(1000);
    expect(q.queuedBytes).toBe(99_000);
    expect(q.hasBacklog).toBe(true);
    // With a backlog small sends are not held: they queue behind it, unwritten.
    const later = [bytes(10), bytes(20), bytes(SMALL_MAX + 5), bytes(30)];
    for (const s of later) q.send(s);
    expect(k.writes.length).toBe(1);
    expect(q.holdState).toBe("idle");
    k.room = 50_000;
    q.onDrain();
    expect(q.queuedBytes).toBe(99_000 + 10 + 20 + SMALL_MAX + 5 + 30 - 50_000);
    k.room = Infinity;
    q.onDrain();
    expect(q.queuedBytes).toBe(0);
    expect(q.hasBacklog).toBe(false);
    expect(received()).toEqual(concat([big, ...later]));
    expect(q.sentBytes).toBe(received().byteLength);
  });

  test("onDrain gathers small queued frames into one write, big ones alone and uncopied", () => {
    const { q, k, received } = rig({ room: 0 });
    const first = bytes(SMALL_MAX); // queued whole: the kernel takes nothing
    q.send(first);
    const smalls = Array.from({ length: 20 }, () => bytes(100));
    for (const s of smalls) q.send(s);
    const big = bytes(SMALL_MAX * 2);
    q.send(big);
    const tail = [bytes(5), bytes(6)];
    for (const s of tail) q.send(s);
    const before = k.writes.length;
    k.room = Infinity;
    q.onDrain();
    const views = k.views.slice(before);
    expect(views.length).toBe(4); // first, the 20 smalls together, big, the tail together
    // Views of the caller's own buffers: not copied.
    expect(views[0]!.buffer).toBe(first.buffer);
    expect(views[0]!.byteLength).toBe(first.byteLength);
    expect(views[1]!.byteLength).toBe(2000);
    expect(views[2]!.buffer).toBe(big.buffer);
    expect(views[2]!.byteLength).toBe(big.byteLength);
    expect(received()).toEqual(concat([first, ...smalls, big, ...tail]));
  });

  test("a held write the kernel takes part of: the rest is kept (a copy: the gathering buffer is reused)", () => {
    const { q, k, soon, received } = rig({ room: 7 });
    const a = [bytes(50), bytes(60)];
    for (const s of a) q.send(s);
    soon.run();
    expect(q.queuedBytes).toBe(103);
    // Another queue gathers through the same shared buffer meanwhile.
    const other = rig();
    other.q.send(bytes(500));
    other.q.send(bytes(500));
    other.soon.run();
    k.room = Infinity;
    q.onDrain();
    expect(received()).toEqual(concat(a));
  });

  test("caps: send returns false at highWater; drained() resolves once under it", async () => {
    const { q, k } = rig({ highWater: 10_000, room: 0 });
    expect(q.send(bytes(SMALL_MAX))).toBe(false); // 16 KiB queued ≥ 10 000
    let done = false;
    const wait = q.drained().then(() => (done = true));
    await Promise.resolve();
    expect(done).toBe(false);
    k.room = Infinity;
    q.onDrain();
    await wait;
    expect(done).toBe(true);
    expect(q.queuedBytes).toBe(0);
    k.room = 0;
    expect(q.send(bytes(SMALL_MAX - 10_000 + 1))).toBe(true); // 6 385 held
    expect(q.send(bytes(SMALL_MAX))).toBe(false); // past the mark again
  });

  test("drained() resolves when a partial drain takes the queue under highWater, not only when it empties", async () => {
    const { q, k } = rig({ highWater: 40_000, room: 0 });
    for (let i = 0; i < 3; i++) q.send(bytes(20_000)); // 60 000 queued, past the mark
    let done = false;
    const wait = q.drained().then(() => (done = true));
    k.room = 30_000; // the kernel takes half: 30 000 still queued, under the mark
    q.onDrain();
    await Promise.resolve();
    expect(q.queuedBytes).toBe(30_000);
    expect(done).toBe(true);
    await wait;
  });

  test("a queue emptied then filled again behaves as a new one, round after round", async () => {
    // Its arrays are let go when empty and made again when needed (an idle link holds none).
    const { q, k, soon, received } = rig({ highWater: 10_000, room: 0 });
    const sent: Uint8Array[] = [];
    for (let round = 0; round < 3; round++) {
      const big = bytes(SMALL_MAX);
      sent.push(big);
      expect(q.send(big)).toBe(false); // queued whole, past the mark
      expect(q.hasBacklog).toBe(true);
      let done = false;
      const wait = q.drained().then(() => (done = true));
      k.room = Infinity;
      q.onDrain();
      await wait;
      expect(done).toBe(true);
      expect(q.hasBacklog).toBe(false);
      const small = [bytes(10), bytes(20)];
      sent.push(...small);
      for (const s of small) q.send(s);
      expect(q.holdState).toBe("heldTurn");
      soon.run();
      expect(q.holdState).toBe("idle");
      expect(q.queuedBytes).toBe(0);
      q.onDrain(); // nothing queued: a no-op
      k.room = 0;
    }
    expect(received()).toEqual(concat(sent));
    expect(q.sentBytes).toBe(received().byteLength);
  });

  test("caps also count held bytes", () => {
    const { q } = rig({ highWater: 1000 });
    expect(q.send(bytes(600))).toBe(true);
    expect(q.send(bytes(600))).toBe(false);
    expect(q.queuedBytes).toBe(1200);
  });

  test("not reading: a queue past maxQueued fails once, drops everything and refuses more", async () => {
    const { q, k } = rig({ maxQueued: 100_000, room: 0 });
    expect(q.send(bytes(60_000))).toBe(true);
    let released = false;
    const wait = q.drained().then(() => (released = true));
    expect(q.send(bytes(50_000))).toBe(false);
    expect(k.fails).toEqual(["peer not reading (110000 bytes queued)"]);
    expect(q.isClosed).toBe(true);
    expect(q.queuedBytes).toBe(0);
    expect(q.send(bytes(10))).toBe(false);
    expect(q.sendWith(10, copyInto, bytes(10))).toBe(false);
    q.onDrain();
    q.flush();
    await wait;
    expect(released).toBe(true);
    expect(k.fails.length).toBe(1);
  });

  test("not reading counts held small sends too", () => {
    const { q, k } = rig({ maxQueued: 1000 });
    expect(q.send(bytes(900))).toBe(true);
    expect(q.send(bytes(200))).toBe(false);
    expect(k.fails).toEqual(["peer not reading (1100 bytes queued)"]);
    expect(k.writes.length).toBe(0);
  });

  test("write returning -1: a send fails the queue with 'socket closed'", () => {
    const { q, k, soon } = rig();
    q.send(bytes(10));
    k.gone = true;
    soon.run();
    expect(k.fails).toEqual(["socket closed"]);
    expect(q.isClosed).toBe(true);
    const r2 = rig();
    r2.k.gone = true;
    expect(r2.q.send(bytes(SMALL_MAX))).toBe(false);
    expect(r2.k.fails).toEqual(["socket closed"]);
  });

  test("write returning -1 on drain leaves the failing to the socket's close", () => {
    const { q, k } = rig({ room: 0 });
    q.send(bytes(SMALL_MAX));
    k.gone = true;
    q.onDrain();
    expect(k.fails).toEqual([]);
    expect(q.queuedBytes).toBe(SMALL_MAX);
    expect(q.sentBytes).toBe(0);
    expect(q.hasBacklog).toBe(true);
  });

  test("sendWith frames are written into one lent buffer, which the flush hands to the kernel as it is", () => {
    const { q, k, soon, received } = rig();
    const a = bytes(10);
    const b = bytes(20);
    q.sendWith(64, copyInto, a);
    q.sendWith(64, copyInto, b);
    expect(k.writes.length).toBe(0);
    soon.run();
    expect(k.writes.length).toBe(1);
    expect(received()).toEqual(concat([a, b]));
    // Not a gathered copy: the view written lies in a buffer of TAIL_BYTES (the lent tail).
    expect(k.views[0]!.buffer.byteLength).toBeGreaterThanOrEqual(TAIL_BYTES);
    expect(k.views[0]!.byteLength).toBe(30);
  });

  test("sendWith and send interleaved keep their order; the tail is lent again after a flush", () => {
    const { q, soon, received } = rig();
    const parts = [bytes(5), bytes(7), bytes(9), bytes(11), bytes(13)];
    q.sendWith(16, copyInto, parts[0]!);
    q.send(parts[1]!);
    q.sendWith(16, copyInto, parts[2]!);
    q.send(parts[3]!);
    q.sendWith(16, copyInto, parts[4]!);
    soon.run();
    expect(received()).toEqual(concat(parts));
    const more = bytes(3);
    q.sendWith(8, copyInto, more);
    soon.run();
    expect(received()).toEqual(concat([...parts, more]));
  });

  test("a tail the kernel takes part of: the rest is kept as a copy (the tail is lent to others meanwhile)", () => {
    const { q, k, soon, received } = rig({ room: 4 });
    const a = bytes(10);
    q.sendWith(10, copyInto, a);
    soon.run();
    expect(q.queuedBytes).toBe(6);
    // Another queue borrows (and overwrites) tails now.
    const other = rig();
    for (let i = 0; i < 4; i++) other.q.sendWith(100, copyInto, new Uint8Array(100).fill(0xee));
    other.soon.run();
    k.room = Infinity;
    q.onDrain();
    expect(received()).toEqual(a);
  });

  test("past TAILS_MAX lent tails a frame gets an array of its own: the same bytes leave", () => {
    const rigs = Array.from({ length: TAILS_MAX + 3 }, () => rig());
    const sent = rigs.map(() => bytes(12));
    rigs.forEach((x, i) => x.q.sendWith(12, copyInto, sent[i]!));
    rigs.forEach((x) => x.soon.run());
    rigs.forEach((x, i) => expect(x.received()).toEqual(sent[i]!));
    // All given back: a new round borrows tails again.
    const again = rig();
    again.q.sendWith(12, copyInto, bytes(12));
    again.soon.run();
    expect(again.k.views[0]!.buffer.byteLength).toBeGreaterThanOrEqual(TAIL_BYTES);
  });

  test("sentBytes + queuedBytes is what was accepted, and the kernel gets a prefix in order, whatever happens", () => {
    const r = prng(7);
    for (let round = 0; round < 40; round++) {
      const { q, k, soon, received } = rig({ highWater: 50_000, maxQueued: 400_000, room: 0 });
      const accepted: Uint8Array[] = [];
      let total = 0;
      for (let step = 0; step < 60 && !q.isClosed; step++) {
        const op = r.int(0, 9);
        if (op <= 4) {
          const b = r.int(0, 3) === 0 ? r.bytes(r.int(SMALL_MAX, 70_000)) : r.bytes(r.int(0, 3000));
          if (op >= 3) q.sendWith(b.byteLength + r.int(0, 9), copyInto, b);
          else q.send(b);
          if (!q.isClosed) {
            accepted.push(b);
            total += b.byteLength;
          }
        } else if (op === 5) {
          k.room = r.int(0, 40_000);
          q.onDrain();
        } else if (op === 6) soon.run();
        else if (op === 7) soon.run();
        else if (op === 8) q.flush();
        else k.room = r.int(0, 5000);
        if (!q.isClosed) expect(q.sentBytes + q.queuedBytes).toBe(total);
        expect(q.sentBytes).toBe(received().byteLength);
        expect(received()).toEqual(concat(accepted).subarray(0, q.sentBytes));
      }
      if (q.isClosed) {
        expect(k.fails.length).toBe(1);
        continue;
      }
      k.room = Infinity;
      q.flush();
      q.onDrain();
      expect(q.queuedBytes).toBe(0);
      expect(received()).toEqual(concat(accepted));
    }
  });
});

describe("FlushScheduler", () => {
  test("one deferral per batch; every item added is flushed once per add, including items added while flushing", () => {
    const d = manualDefer();
    const flushed: string[] = [];
    const s: FlushScheduler<string> = new FlushScheduler<string>(d.defer, (x) => {
      flushed.push(x);
      if (x === "a") s.add("late");
    });
    s.add("a");
    s.add("b");
    expect(d.armed()).toBe(1);
    expect(flushed).toEqual([]);
    d.run();
    expect(flushed).toEqual(["a", "b", "late"]);
    d.run(); // the deferral armed by "late" finds nothing left
    expect(flushed).toEqual(["a", "b", "late"]);
    s.add("c");
    expect(d.armed()).toBe(1);
    d.run();
    expect(flushed).toEqual(["a", "b", "late", "c"]);
  });
});
