import { describe, expect, test } from "bun:test";
import { PiecePool, type SentCounter } from "../../src/client/files/serve.ts";

/** A link as the pool sees it: bytes written so far, bytes still held, closed or not. */
function fakeLink(): SentCounter & { sentBytes: number; queuedBytes: number; isClosed: boolean } {
  return { sentBytes: 0, queuedBytes: 0, isClosed: false };
}

describe("PiecePool (serving buffers)", () => {
  test("a buffer comes back only once its link has written all of it", () => {
    const pool = new PiecePool(16);
    const link = fakeLink();
    const a = pool.take();
    // Sent: the kernel took 10 bytes of the 16, 6 are queued (a view of `a`).
    link.sentBytes = 10;
    link.queuedBytes = 6;
    pool.giveBack(a, link);
    const b = pool.take();
    expect(b).not.toBe(a); // still queued: a new one
    link.sentBytes = 15; // one byte of `a` still queued
    link.queuedBytes = 1;
    expect(pool.take()).not.toBe(a);
    link.sentBytes = 16;
    link.queuedBytes = 0;
    expect(pool.take()).toBe(a);
  });

  test("a buffer the kernel took whole, or that was never sent, is free at once", () => {
    const pool = new PiecePool(16);
    const link = fakeLink();
    const a = pool.take();
    link.sentBytes = 16;
    pool.giveBack(a, link);
    expect(pool.take()).toBe(a);
    pool.giveBack(a, null);
    expect(pool.take()).toBe(a);
  });

  test("buffers queued on a link that closed are free again; bytes later in the queue wait for theirs", () => {
    const pool = new PiecePool(16);
    const l1 = fakeLink();
    const l2 = fakeLink();
    const a = pool.take();
    l1.queuedBytes = 16;
    pool.giveBack(a, l1);
    const b = pool.take();
    l2.sentBytes = 100;
    l2.queuedBytes = 40; // b's last byte is at 140
    pool.giveBack(b, l2);
    l2.sentBytes = 139;
    l1.isClosed = true;
    expect(pool.take()).toBe(a);
    expect(pool.take()).not.toBe(b);
  });

  test("memory stays bounded: free buffers and buffers in use are capped", () => {
    const pool = new PiecePool(16, 2, 3);
    const link = fakeLink();
    const bufs = Array.from({ length: 10 }, () => pool.take());
    link.queuedBytes = 1000; // nothing ever leaves
    for (const b of bufs.slice(0, 5)) pool.giveBack(b, link);
    for (const b of bufs.slice(5)) pool.giveBack(b, null);
    expect(pool.owned).toBe(3 + 2);
  });
});
