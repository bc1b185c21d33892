/**
 * The piece worker (src/client/files/piece-worker.ts): a download's pieces are written
 * at their offsets and hashed on a worker thread, from buffers handed over or copied;
 * a failed write fails the job at once; the file may be closed once `abort` resolves.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pieceWorker } from "../../src/client/files/piece-worker.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const dirs: string[] = [];
const fds: number[] = [];
afterEach(() => {
  for (const fd of fds.splice(0)) closeSync(fd);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
/** A fresh file of `size` zero bytes and its descriptor, open as a download opens its .part. */
function partFile(size: number, flags = "r+"): { path: string; fd: number } {
  const d = mkdtempSync(join(tmpdir(), "piece-worker-"));
  dirs.push(d);
  const path = join(d, "f.part");
  writeFileSync(path, new Uint8Array(size));
  const fd = openSync(path, flags);
  fds.push(fd);
  return { path, fd };
}

describe("pieceWorker", () => {
  test("writes the pieces at their offsets and hashes them on a worker, in any piece sizes, handed over or copied", async () => {
    expect(pieceWorker.offThread).toBe(true);
    const data = randomBytes(3 * 1024 * 1024 + 5);
    const before = sha(data);
    const start = 100; // the chunk starts at an offset in the file
    const { path, fd } = partFile(start + data.byteLength + 50);
    const job = pieceWorker.open(start);
    let acked = 0;
    let given = 0;
    for (let pos = 0, i = 0; pos < data.byteLength; i++) {
      const n = Math.min(data.byteLength - pos, i === 3 ? (1 << 20) + 7 : 1 + Math.floor(Math.random() * 300_000));
      // Every other piece in a buffer of its own behind a 9-byte frame header, handed
      // over (transferred to the worker); the others are views into `data` (copied:
      // `data` stays intact).
      let piece: Uint8Array = data.subarray(pos, pos + n);
      const own = i % 2 === 0;
      if (own) {
        const b = Buffer.allocUnsafe(9 + n);
        b.set(piece, 9);
        piece = b.subarray(9);
      }
      given++;
      job.store(fd, start + pos, piece, () => acked++, own);
      if (own) {
        await Promise.resolve(); // the callback is over: the buffer has left
        expect(piece.byteLength).toBe(0);
      }
      pos += n;
    }
    expect(await job.digest()).toEqual({ hash: sha(data), onDisk: true });
    expect(acked).toBe(given);
    expect(pieceWorker.backlog).toBe(0);
    expect(sha(data)).toBe(before); // views into a bigger buffer are copied, never detached
    const file = readFileSync(path);
    expect(sha(file.subarray(start, start + data.byteLength))).toBe(before);
    expect(file.subarray(0, start).every((b) => b === 0)).toBe(true);
    expect(file.subarray(start + data.byteLength).every((b) => b === 0)).toBe(true);
  });

  test("pieces out of order fail the job: onError hears it at once, and the digest rejects", async () => {
    const data = randomBytes(100);
    const { fd } = partFile(100);
    const errors: string[] = [];
    const job = pieceWorker.open(0, (why) => errors.push(why));
    job.store(fd, 0, data.slice(0, 10));
    job.store(fd, 20, data.slice(20, 30));
    // (Not expect().rejects: with the answer coming from a worker it was seen to spin.)
    const err = await job.digest().then(() => null, (e: Error) => e);
    expect(String(err)).toMatch(/expected 10/);
    expect(errors).toEqual([expect.stringMatching(/expected 10/)]);
  });

  test("a write that fails (a file open read-only) fails the job before its end, and nothing is hashed past it", async () => {
    const { fd } = partFile(1000, "r");
    const errors: string[] = [];
    const job = pieceWorker.open(0, (why) => errors.push(why));
    job.store(fd, 0, randomBytes(500));
    for (let k = 0; k < 50 && errors.length === 0; k++) await Bun.sleep(10);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/EBADF|bad file/i);
    job.store(fd, 500, randomBytes(500));
    const err = await job.digest().then(() => null, (e: Error) => e);
    expect(String(err)).toMatch(/EBADF|bad file/i);
    expect(errors).toHaveLength(1); // reported once
  });

  test("abort resolves only once the worker is done with every piece given before it", async () => {
    const data = randomBytes(8 << 20);
    const { path, fd } = partFile(data.byteLength);
    const job = pieceWorker.open(0);
    let stored = 0;
    for (let pos = 0; pos < data.byteLength; pos += 1 << 20) job.store(fd, pos, data.subarray(pos, pos + (1 << 20)), () => stored++);
    await job.abort();
    expect(stored).toBe(8);
    expect(pieceWorker.backlog).toBe(0);
    expect(sha(readFileSync(path))).toBe(sha(data)); // all written: the file may be closed now
    expect(await job.abort()).toBeUndefined(); // again: the same, at once
    const err = await job.digest().then(() => null, (e: Error) => e);
    expect(String(err)).toMatch(/ended/);
  });

  test("pieces of two chunks in one handed-over buffer (one socket read) go together, land apart and hash apart", async () => {
    const a = randomBytes(700_000);
    const b = randomBytes(500_000);
    const { path, fd } = partFile(1_200_000);
    const ja = pieceWorker.open(0);
    const jb = pieceWorker.open(700_000);
    // Three "reads", each holding the end of one chunk's piece and the start of the other's.
    const cuts = [[0, 300_000, 0, 200_000], [300_000, 650_000, 200_000, 480_000], [650_000, 700_000, 480_000, 500_000]];
    let acked = 0;
    for (const [a0, a1, b0, b1] of cuts) {
      const read = new Uint8Array(a1! - a0! + b1! - b0!);
      read.set(a.subarray(a0, a1), 0);
      read.set(b.subarray(b0, b1), a1! - a0!);
      ja.store(fd, a0!, read.subarray(0, a1! - a0!), () => acked++, true);
      jb.store(fd, 700_000 + b0!, read.subarray(a1! - a0!), () => acked++, true);
      expect(read.byteLength).toBeGreaterThan(0); // still here until the callback is over
      await Promise.resolve();
      expect(read.byteLength).toBe(0);
    }
    expect(await ja.digest()).toEqual({ hash: sha(a), onDisk: true });
    expect(await jb.digest()).toEqual({ hash: sha(b), onDisk: true });
    expect(acked).toBe(6);
    expect(pieceWorker.backlog).toBe(0);
    expect(sha(readFileSync(path))).toBe(sha(Buffer.concat([a, b])));
  });

  test("a chunk that ends inside a read, and one that starts there, both hash right", async () => {
    const a = randomBytes(1000);
    const b = randomBytes(3000);
    const { path, fd } = partFile(4000);
    const read = new Uint8Array(4000);
    read.set(a, 0);
    read.set(b, 1000);
    const ja = pieceWorker.open(0);
    ja.store(fd, 0, read.subarray(0, 1000), undefined, true);
    const da = ja.digest(); // chunk a is complete: its digest is asked for mid-read...
    const jb = pieceWorker.open(1000); // ...and the next chunk starts in the same read
    jb.store(fd, 1000, read.subarray(1000), undefined, true);
    expect(read.subarray(1000).byteLength).toBe(3000); // nothing left before the read is handled
    expect(await da).toEqual({ hash: sha(a), onDisk: true });
    expect(await jb.digest()).toEqual({ hash: sha(b), onDisk: true });
    expect(sha(readFileSync(path))).toBe(sha(Buffer.concat([a, b])));
  });
});
