/**
 * Writing a chunk's pieces and hashing them while it streams in, on a worker thread.
 *
 * Each piece of a chunk is handed to a worker thread, which writes it at its offset in
 * the .part file (a synchronous write into the page cache) and then feeds those very
 * bytes to the chunk's SHA-256. So writing and hashing overlap receiving (the worker
 * runs on another core than the socket and its TLS), a write the kernel makes wait
 * holds up the worker, not the prompt, and nothing is read back: the hash that decides
 * whether the chunk is good is the hash of exactly the bytes stored at their place in
 * this process (docs/file-sharing.md). The worker writes through the descriptor the
 * main thread opened (descriptors belong to the process); the file may be closed only
 * once the worker is done with the job (`abort` resolves then, `digest` too).
 *
 * The hand-over is zero-copy when the caller gives up the buffer under the piece
 * (`handOver`, as a peer link's socket reads allow: fetch.ts). Everything
 * asked of the worker during one callback (jobs opened, pieces, digests) is gathered
 * and sent, in order, as one message once the callback is over, which transfers the
 * buffers along: only then is a socket read done with (it may hold pieces of two
 * chunks, and the first chunk may end in between). Nothing is copied, and the
 * buffers die on the worker, whose small heap collects them cheaply, instead of
 * adding to this thread's collector. Any other piece is copied once into a buffer
 * of its own. (Measured, bench/README-transfer.md.)
 *
 * If no worker can be started, the pieces are written and hashed on this thread
 * (`onDisk` false); the download then re-reads those chunks before assembling.
 */
import { createHash, type Hash } from "node:crypto";
import { writeSync } from "node:fs";

/** One chunk being written and hashed: pieces are given in file order. */
export interface PieceJob {
  /**
   * Write `bytes` at `at` in the file open as `fd`, then add them to the chunk's hash.
   * `stored` runs once both are done, so the caller can count the bytes as in memory
   * until then. On the worker a failed write fails the job: the job's `onError` runs
   * (once) and `digest` rejects; on this thread (no worker) it throws. With
   * `handOver`, the caller gives up the whole buffer under `bytes` (every view of it):
   * it is transferred to the worker, and so detached here, once the current callback
   * is over. Without it the bytes are copied.
   */
  store(fd: number, at: number, bytes: Uint8Array, stored?: () => void, handOver?: boolean): void;
  /** The hex digest of everything stored, and whether it was hashed from the bytes as written. */
  digest(): Promise<{ hash: string; onDisk: boolean }>;
  /**
   * Forget the job if it is still open (failed or cancelled transfer). Resolves once
   * the worker will touch none of its pieces again: only then may the file be closed
   * (its descriptor's number could be reused by the next file opened).
   */
  abort(): Promise<void>;
}

// The worker's code, as plain JS, so it needs no extra entry point in the compiled program.
// A message is { ops, bufs }: ops in order, each [OPEN, job, at], [PIECE, job, at, buffer
// index, offset, length, fd], [END, job] or [ABORT, job]. Every message is acknowledged
// with 0 once its pieces are written and hashed (even for an unknown or failed job); a
// job's first failure is reported at once as { id, failed }; END is answered after the
// acknowledgement, with { id, hash } or { id, err }.
const OPEN = 0;
const PIECE = 1;
const END = 2;
const ABORT = 3;
const WORKER_SOURCE = `
import { createHash } from "node:crypto";
import { writeSync } from "node:fs";
const jobs = new Map();
let since = 0;
self.onmessage = (e) => {
  const { ops, bufs } = e.data;
  const answers = [];
  for (const op of ops) {
    const j = jobs.get(op[1]);
    if (op[0] === ${PIECE}) {
      if (!j || j.err) continue;
      try {
        if (op[2] !== j.next) throw new Error("piece at " + op[2] + ", expected " + j.next);
        const v = new Uint8Array(bufs[op[3]], op[4], op[5]);
        for (let done = 0; done < v.byteLength; ) {
          const n = writeSync(op[6], v, done, v.byteLength - done, op[2] + done);
          if (n <= 0) throw new Error("short write at " + (op[2] + done));
          done += n;
        }
        j.h.update(v);
        j.next += op[5];
      } catch (err) {
        j.err = err instanceof Error ? err.message : String(err);
        postMessage({ id: op[1], failed: j.err });
      }
    } else if (op[0] === ${OPEN}) {
      jobs.set(op[1], { h: createHash("sha256"), next: op[2], err: null });
    } else {
      jobs.delete(op[1]);
      if (op[0] === ${END}) answers.push(!j ? { id: op[1], err: "unknown job" } : j.err ? { id: op[1], err: j.err } : { id: op[1], hash: j.h.digest("hex") });
    }
  }
  postMessage(0);
  for (const a of answers) postMessage(a);
  // Transferred buffers die here: ask for a collection now and then, or they pile up
  // between the engine's own. Bun.gc(false) only asks (the collector runs it
  // concurrently); measured against a synchronous full one, Bun.gc(true), it cost
  // less and the process took a third of the page faults (bench/README-transfer.md).
  for (const b of bufs) since += b.byteLength;
  if (since >= ${16 << 20}) { since = 0; Bun.gc(false); }
};
`;

type Waiter = { resolve: (r: { hash: string; onDisk: boolean }) => void; reject: (e: Error) => void };

class PieceWorker {
  private worker: Worker | null = null;
  private failed = false;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();
  /** The jobs' `onError`, until they end. */
  private readonly failing = new Map<number, (message: string) => void>();
  /** Callbacks of the messages posted and not yet acknowledged, in posting order. */
  private acks: ((() => void) | undefined)[] = [];
  private ackHead = 0;
  /**
   * What this callback asked of the worker, in order, sent as one message once the
   * callback is over: only then may handed-over buffers leave (a socket read's other
   * pieces are still being handled until then).
   */
  private ops: (number[])[] = [];
  private bufs: ArrayBuffer[] = [];
  private cbs: (() => void)[] = [];
  private flushQueued = false;

  /**
   * A job for one chunk; its first piece will be at `at`. `onError` hears of the
   * job's first failure on the worker (a write that failed, a piece out of order) as
   * soon as the worker meets it.
   */
  open(at = 0, onError?: (message: string) => void): PieceJob {
    const w = this.start();
    if (!w) return memoryJob();
    const id = this.nextId++;
    this.add([OPEN, id, at]);
    if (onError) this.failing.set(id, onError);
    /** Set when the job ends: settles once the worker is done with it. */
    let ended: Promise<void> | null = null;
    return {
      store: (fd, pos, bytes, stored, handOver) => {
        // (A worker that died fails the job at its digest.)
        if (ended || this.worker !== w) return void stored?.();
        // (Out of order pieces fail the job on the worker.)
        const buf = bytes.buffer;
        if (handOver && buf instanceof ArrayBuffer) {
          // Pieces of one read come one after another: look at the last buffer only.
          let i = this.bufs.length - 1;
          if (i < 0 || this.bufs[i] !== buf) i = this.bufs.push(buf) - 1;
          this.add([PIECE, id, pos, i, bytes.byteOffset, bytes.byteLength, fd], stored);
        } else {
          // A copy in a buffer of its own (not Buffer#slice: that is a view).
          const own = new Uint8Array(bytes);
          this.bufs.push(own.buffer);
          this.add([PIECE, id, pos, this.bufs.length - 1, 0, own.byteLength, fd], stored);
        }
      },
      digest: () => {
        if (ended) return Promise.reject(new Error("job already ended"));
        const answer: Promise<{ hash: string; onDisk: boolean }> =
          this.worker !== w
            ? Promise.reject(new Error("piece worker gone"))
            : new Promise((resolve, reject) => {
                this.waiting.set(id, { resolve, reject });
                this.add([END, id]);
              });
        ended = answer.then(
          () => {},
          () => {},
        );
        return answer;
      },
      abort: () => {
        ended ??=
          this.worker !== w
            ? Promise.resolve()
            : new Promise<void>((resolve) =>
                this.add([ABORT, id], () => {
                  this.failing.delete(id);
                  resolve();
                }),
              );
        return ended;
      },
    };
  }

  private add(op: number[], cb?: () => void): void {
    this.ops.push(op);
    if (cb) this.cbs.push(cb);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Send what this callback gathered, as one message that takes the buffers along. */
  private flush(): void {
    this.flushQueued = false;
    const w = this.worker;
    const { ops, bufs, cbs } = this;
    this.ops = [];
    this.bufs = [];
    this.cbs = [];
    if (!w) {
      for (const cb of cbs) cb();
      return;
    }
    this.acks.push(cbs.length === 0 ? undefined : () => {
      for (const cb of cbs) cb();
    });
    try {
      w.postMessage({ ops, bufs }, bufs);
    } catch {
      try {
        // Not transferable after all: the message copies them.
        w.postMessage({ ops, bufs });
      } catch {
        // Not even that (a buffer detached by someone else): the pieces fail their jobs.
        w.postMessage({ ops, bufs: [] });
      }
    }
  }

  /** Whether pieces are written and hashed on the worker (not on this thread). */
  get offThread(): boolean {
    return this.start() !== null;
  }

  /** Messages handed over and not yet written and hashed (for tests and debugging). */
  get backlog(): number {
    return this.acks.length - this.ackHead;
  }

  private acked(): void {
    const cb = this.acks[this.ackHead];
    this.acks[this.ackHead++] = undefined;
    if (this.ackHead === this.acks.length) {
      this.acks = [];
      this.ackHead = 0;
    } else if (this.ackHead > 1024) {
      this.acks = this.acks.slice(this.ackHead);
      this.ackHead = 0;
    }
    cb?.();
  }

  private start(): Worker | null {
    if (this.worker || this.failed) return this.worker;
    try {
      const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
      const w = new Worker(url);
      w.onmessage = (e: MessageEvent) => {
        if (e.data === 0) return this.acked();
        const m = e.data as { id: number; hash?: string; err?: string; failed?: string };
        if (m.failed !== undefined) {
          const f = this.failing.get(m.id);
          this.failing.delete(m.id);
          return f?.(m.failed);
        }
        this.failing.delete(m.id);
        const waiter = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (!waiter) return;
        if (m.hash) waiter.resolve({ hash: m.hash, onDisk: true });
        else waiter.reject(new Error(m.err ?? "hash failed"));
      };
      w.onerror = (e) => {
        // The worker died: fail what it had, and write and hash on this thread from now on.
        this.failed = true;
        this.worker = null;
        for (const [, waiter] of this.waiting) waiter.reject(new Error(`piece worker: ${(e as ErrorEvent).message}`));
        this.waiting.clear();
        this.failing.clear();
        const cbs = this.acks.slice(this.ackHead);
        this.acks = [];
        this.ackHead = 0;
        for (const cb of cbs) cb?.();
      };
      (w as Worker & { unref?: () => void }).unref?.();
      this.worker = w;
    } catch {
      this.failed = true;
    }
    return this.worker;
  }
}

/** Fallback: write and hash the pieces as they arrive, on this thread. */
function memoryJob(): PieceJob {
  const h: Hash = createHash("sha256");
  return {
    store: (fd, at, bytes, stored) => {
      for (let done = 0; done < bytes.byteLength; ) {
        const n = writeSync(fd, bytes, done, bytes.byteLength - done, at + done);
        if (n <= 0) throw new Error(`short write at ${at + done}`);
        done += n;
      }
      h.update(bytes);
      stored?.();
    },
    digest: async () => ({ hash: h.digest("hex"), onDisk: false }),
    abort: async () => {},
  };
}

/** The process's one worker for received pieces (started on first use). */
export const pieceWorker = new PieceWorker();
