/**
 * Hashing a chunk while it streams in, from the bytes as written to disk.
 *
 * Each piece of a chunk is written at its offset in the .part file; as soon as that
 * write completes, a worker thread reads the piece back and feeds it to the chunk's
 * SHA-256. So hashing overlaps receiving (and runs on another core than the socket
 * and the disk writes), and the hash that decides whether the chunk is good is the
 * hash of the bytes really stored at their place: the per-chunk checks are a check
 * of the assembled file's content (docs/file-sharing.md).
 *
 * If no worker can be started, the pieces are hashed on this thread as they arrive
 * (`onDisk` false); the download then re-reads those chunks before assembling.
 */
import { createHash, type Hash } from "node:crypto";

/** One chunk being hashed: pieces are reported in file order, each once written. */
export interface HashJob {
  /** Bytes [at, at + bytes.byteLength) of the file are written (in order within the job). */
  written(at: number, bytes: Uint8Array): void;
  /** The hex digest of everything written, and whether it was read back from disk. */
  digest(): Promise<{ hash: string; onDisk: boolean }>;
  /** Forget the job (failed or cancelled transfer). */
  abort(): void;
}

// The worker's code, as plain JS, so it needs no extra entry point in the compiled program.
const WORKER_SOURCE = `
import { createHash } from "node:crypto";
import { openSync, readSync, closeSync } from "node:fs";
const jobs = new Map();
const buf = Buffer.allocUnsafe(1 << 20);
self.onmessage = (e) => {
  const m = e.data;
  if (m.op === "open") {
    try { jobs.set(m.id, { fd: openSync(m.path, "r"), h: createHash("sha256"), err: null }); }
    catch (err) { jobs.set(m.id, { fd: -1, h: null, err: String(err) }); }
  } else if (m.op === "range") {
    const j = jobs.get(m.id);
    if (!j || j.err) return;
    try {
      for (let pos = m.start; pos < m.end; ) {
        const n = readSync(j.fd, buf, 0, Math.min(buf.length, m.end - pos), pos);
        if (n <= 0) throw new Error("short read at " + pos);
        j.h.update(buf.subarray(0, n));
        pos += n;
      }
    } catch (err) { j.err = String(err); }
  } else if (m.op === "end" || m.op === "abort") {
    const j = jobs.get(m.id);
    jobs.delete(m.id);
    if (j && j.fd >= 0) closeSync(j.fd);
    if (m.op === "end") postMessage(!j ? { id: m.id, err: "unknown job" } : j.err ? { id: m.id, err: j.err } : { id: m.id, hash: j.h.digest("hex") });
  }
};
`;

/** Bytes handed to the worker at a time (and the size of its read buffer). */
export const HASH_SPAN = 1 << 20;

type Waiter = { resolve: (r: { hash: string; onDisk: boolean }) => void; reject: (e: Error) => void };

class DiskHasher {
  private worker: Worker | null = null;
  private failed = false;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();

  /** A job for chunk bytes written to `path`. */
  open(path: string): HashJob {
    const w = this.start();
    if (!w) return memoryJob();
    const id = this.nextId++;
    w.postMessage({ op: "open", id, path });
    let done = false;
    // Written ranges are contiguous (pieces are written in order): hand them over in
    // spans of HASH_SPAN, since hashing is faster in big blocks than in many small ones.
    let from = -1;
    let to = -1;
    const flush = () => {
      if (from < to) w.postMessage({ op: "range", id, start: from, end: to });
      from = to;
    };
    return {
      written: (at, bytes) => {
        if (done) return;
        if (at !== to) {
          flush();
          from = at;
        }
        to = at + bytes.byteLength;
        if (to - from >= HASH_SPAN) flush();
      },
      digest: () => {
        done = true;
        flush();
        return new Promise((resolve, reject) => {
          this.waiting.set(id, { resolve, reject });
          w.postMessage({ op: "end", id });
        });
      },
      abort: () => {
        if (done) return;
        done = true;
        w.postMessage({ op: "abort", id });
      },
    };
  }

  private start(): Worker | null {
    if (this.worker || this.failed) return this.worker;
    try {
      const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
      const w = new Worker(url);
      w.onmessage = (e: MessageEvent) => {
        const m = e.data as { id: number; hash?: string; err?: string };
        const waiter = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (!waiter) return;
        if (m.hash) waiter.resolve({ hash: m.hash, onDisk: true });
        else waiter.reject(new Error(m.err ?? "hash failed"));
      };
      w.onerror = (e) => {
        // The worker died: fail what it had, and hash on this thread from now on.
        this.failed = true;
        this.worker = null;
        for (const [, waiter] of this.waiting) waiter.reject(new Error(`hash worker: ${(e as ErrorEvent).message}`));
        this.waiting.clear();
      };
      (w as Worker & { unref?: () => void }).unref?.();
      this.worker = w;
    } catch {
      this.failed = true;
    }
    return this.worker;
  }
}

/** Fallback: hash the pieces as they arrive, on this thread. */
function memoryJob(): HashJob {
  const h: Hash = createHash("sha256");
  return {
    written: (_at, bytes) => void h.update(bytes),
    digest: async () => ({ hash: h.digest("hex"), onDisk: false }),
    abort: () => {},
  };
}

/** The process's one hashing worker (started on first use). */
export const diskHasher = new DiskHasher();
