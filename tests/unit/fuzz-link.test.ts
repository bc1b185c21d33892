/**
 * Property test of Link (src/net/link.ts) over real loopback sockets: random
 * sequences of send / end / destroy / pause / resume / drained on our side, and
 * a peer that reads, stops reading or hangs up. Whatever the order: no call ever
 * throws (a closed or ending link included), `close` fires exactly once, the
 * peer receives a prefix of what was sent — all of it after a graceful end() to
 * a reading peer — the write queue never grows past maxQueued, and what the link
 * says it has written (sentBytes) plus what it holds is what it accepted.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import fc from "fast-check";
import { listenLinks, type Link } from "../../src/net/link.ts";

const MAX_QUEUED = 512 * 1024;
const HIGH_WATER = 64 * 1024;

type Accepted = { link: Link; closes: string[] };
let listener: TCPSocketListener<any>;
let accepted: ((a: Accepted) => void) | null = null;

beforeAll(() => {
  listener = listenLinks("127.0.0.1", 0, { maxFrame: 1024, highWater: HIGH_WATER, maxQueued: MAX_QUEUED }, (link) => {
    const a: Accepted = { link, closes: [] };
    link.attach({ frame() {}, close: (r) => a.closes.push(r) });
    accepted?.(a);
  });
});
afterAll(() => listener.stop(true));

/** A peer that records what it gets and can stop reading or hang up. */
async function peer() {
  const got: Uint8Array[] = [];
  let closed = false;
  const accept = new Promise<Accepted>((r) => (accepted = r));
  const sock: Socket<undefined> = await Bun.connect<undefined>({
    hostname: "127.0.0.1",
    port: listener.port,
    socket: {
      data: (_s, d) => void got.push(d),
      close: () => void (closed = true),
      error: () => void (closed = true),
    },
  });
  const ours = await accept;
  return {
    ours,
    sock,
    received: () => new Uint8Array(Buffer.concat(got)),
    get closed() {
      return closed;
    },
  };
}

const op = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant("send" as const), n: fc.oneof(fc.nat(300), fc.integer({ min: 1, max: 600_000 })) }) },
  { weight: 1, arbitrary: fc.constant({ k: "flood" as const }) },
  { weight: 1, arbitrary: fc.constant({ k: "end" as const }) },
  { weight: 1, arbitrary: fc.constant({ k: "destroy" as const }) },
  { weight: 1, arbitrary: fc.constant({ k: "pause" as const }) },
  { weight: 1, arbitrary: fc.constant({ k: "resume" as const }) },
  { weight: 1, arbitrary: fc.constant({ k: "drained" as const }) },
  { weight: 1, arbitrary: fc.constant({ k: "peerStops" as const }) },
  { weight: 1, arbitrary: fc.constant({ k: "peerReads" as const }) },
  { weight: 1, arbitrary: fc.constant({ k: "peerHangsUp" as const }) },
  { weight: 2, arbitrary: fc.constant({ k: "tick" as const }) },
);

let fill = 0;
const payload = (n: number) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (fill + i) & 0xff;
  fill += n;
  return b;
};

test("any sequence of link operations: never throws, closes once, delivers a prefix in order, queue bounded", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
      const p = await peer();
      const { link, closes } = p.ours;
      const sent: Uint8Array[] = [];
      let graceful = false;
      let peerStopped = false;
      let lossy = false; // the peer hung up, or we destroyed: a prefix is all we can ask
      let accepted = 0;
      let lastSent = 0;
      const books = () => {
        expect(link.sentBytes).toBeGreaterThanOrEqual(lastSent);
        lastSent = link.sentBytes;
        if (!link.isClosed) expect(link.sentBytes + link.queuedBytes).toBe(accepted);
      };
      for (const o of ops) {
        switch (o.k) {
          case "send": {
            const b = payload(o.n);
            const wasOpen = link.isOpen;
            link.send(b);
            if (wasOpen) sent.push(b);
            if (wasOpen) accepted += b.byteLength;
            expect(link.queuedBytes).toBeLessThanOrEqual(MAX_QUEUED);
            break;
          }
          case "flood": // more than the kernel buffers and maxQueued together
            for (let i = 0; i < 24; i++) {
              const b = payload(512 * 1024);
              const wasOpen = link.isOpen;
              link.send(b);
              if (wasOpen) sent.push(b);
              if (wasOpen) accepted += b.byteLength;
              expect(link.queuedBytes).toBeLessThanOrEqual(MAX_QUEUED);
              books();
            }
            break;
          case "end":
            link.end();
            if (!lossy && link.queuedBytes <= MAX_QUEUED) graceful = true;
            break;
          case "destroy":
            link.destroy("test");
            lossy = true;
            break;
          case "pause":
            link.pause();
            break;
          case "resume":
            link.resume();
            break;
          case "drained":
            await Promise.race([link.drained(), Bun.sleep(50)]);
            break;
          case "peerStops":
            p.sock.pause();
            peerStopped = true;
            break;
          case "peerReads":
            p.sock.resume();
            peerStopped = false;
            break;
          case "peerHangsUp":
            p.sock.terminate();
            lossy = true;
            break;
          case "tick":
            await Bun.sleep(1);
            break;
        }
        books();
      }
      // Let it settle: a reading peer gets everything a graceful end flushes.
      if (peerStopped && !lossy) p.sock.resume();
      link.resume(); // a paused link would only see the peer's FIN at the grace timeout
      if (!lossy && !link.isOpen && closes.length === 0) {
        const deadline = Date.now() + 3000;
        while (closes.length === 0 && Date.now() < deadline) await Bun.sleep(5);
      }
      link.destroy("done");
      p.sock.terminate();
      await Bun.sleep(1);

      expect(closes.length).toBe(1);
      const want = new Uint8Array(Buffer.concat(sent));
      const got = p.received();
      expect(got.byteLength).toBeLessThanOrEqual(want.byteLength);
      expect(got.byteLength).toBeLessThanOrEqual(link.sentBytes);
      expect(link.sentBytes).toBeLessThanOrEqual(want.byteLength);
      expect(Buffer.compare(got, want.subarray(0, got.byteLength))).toBe(0);
      const overflowed = /peer not reading/.test(closes[0]!);
      if (graceful && !lossy && !overflowed) {
        expect(got.byteLength).toBe(want.byteLength);
        expect(link.sentBytes).toBe(want.byteLength);
      }
      // After the end, every call is harmless.
      expect(link.send(new Uint8Array(10))).toBe(false);
      link.end();
      link.destroy();
      link.pause();
      link.resume();
      await link.drained();
    }),
    { numRuns: 150 },
  );
}, 60_000);
