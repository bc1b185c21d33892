/**
 * Hashing a chunk while it streams in, on a worker thread, from the bytes written.
 *
 * Each piece of a chunk is written at its offset in the .part file; as soon as that
 * write completed in full, the very bytes that were written are handed to a worker
 * thread, which feeds them to the chunk's SHA-256. So hashing overlaps receiving and
 * writing (the worker runs on another core than the socket), and nothing is read
 * back: the hash that decides whether the chunk is good is the hash of exactly the
 * bytes stored at their place in this process (docs/file-sharing.md).
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
 * If no worker can be started, the pieces are hashed on this thread (`onDisk`
 * false); the download then re-reads those chunks before assembling.
 */
import { createHash, type Hash } from "node:crypto";

/** One chunk being hashed: pieces are reported in file order, each once written. */
export interface HashJob {
  /**
   * Bytes [at, at + bytes.byteLength) of the file were written (in order within the
   * job). `hashed` runs once they are consumed, so the caller can count them as in
   * memory until then. With `handOver`, the caller gives up the whole buffer under
   * `bytes` (every view of it): it is transferred to the worker, and so detached
   * here, once the current callback is over. Without it the bytes are copied.
   */
  written(at: number, bytes: Uint8Array, hashed?: () => void, handOver?: boolean): void;
  /** The hex digest of everything written, and whether it was hashed from the written bytes. */
  digest(): Promise<{ hash: string; onDisk: boolean }>;
  /** Forget the job (failed or cancelled transfer). */
  abort(): void;
}

// The worker's code, as plain JS, so it needs no extra entry point in the compiled program.
// A message is { ops, bufs }: ops in order, each [OPEN, job, at], [PIECE, job, at, buffer
// index, offset, length], [END, job] or [ABORT, job]. Every message is acknowledged with 0
// once its pieces are hashed (even for an unknown or failed job); END is answered after that.
const OPEN = 0;
const PIECE = 1;
const END = 2;
const ABORT = 3;
const WORKER_SOURCE = `
import { createHash } from "node:crypto";
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
        j.h.update(new Uint8Array(bufs[op[3]], op[4], op[5]));
        j.next += op[5];
      } catch (err) { j.err = String(err); }
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

class PieceHasher {
  private worker: Worker | null = null;
  private failed = false;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();
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

  /** A job for one chunk; its first piece will be at `at`. */
  open(at = 0): HashJob {
    const w = this.start();
    if (!w) return memoryJob();
    const id = this.nextId++;
    this.add([OPEN, id, at]);
    let done = false;
    return {
      written: (pos, bytes, hashed, handOver) => {
        if (done || this.worker !== w) return void hashed?.();
        // (Out of order pieces fail the job on the worker: digest rejects.)
        const buf = bytes.buffer;
        if (handOver && buf instanceof ArrayBuffer) {
          // Pieces of one read come one after another: look at the last buffer only.
          let i = this.bufs.length - 1;
          if (i < 0 || this.bufs[i] !== buf) i = this.bufs.push(buf) - 1;
          this.add([PIECE, id, pos, i, bytes.byteOffset, bytes.byteLength], hashed);
        } else {
          // A copy in a buffer of its own (not Buffer#slice: that is a view).
          const own = new Uint8Array(bytes);
          this.bufs.push(own.buffer);
          this.add([PIECE, id, pos, this.bufs.length - 1, 0, own.byteLength], hashed);
        }
      },
      digest: () => {
        done = true;
        if (this.worker !== w) return Promise.reject(new Error("hash worker gone"));
        return new Promise((resolve, reject) => {
          this.waiting.set(id, { resolve, reject });
          this.add([END, id]);
        });
      },
      abort: () => {
        if (done) return;
        done = true;
        this.add([ABORT, id]);
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

  /** Whether pieces are hashed on the worker (not on this thread). */
  get offThread(): boolean {
    return this.start() !== null;
  }

  /** Pieces handed over and not hashed yet (for tests and debugging). */
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

/** Fallback: hash the pieces as they arrive, on this thread. */
function memoryJob(): HashJob {
  const h: Hash = createHash("sha256");
  return {
    written: (_at, bytes, hashed) => {
      h.update(bytes);
      hashed?.();
    },
    digest: async () => ({ hash: h.digest("hex"), onDisk: false }),
    abort: () => {},
  };
}

/** The process's one hashing worker (started on first use). */
export const pieceHasher = new PieceHasher();
