/**
 * Hashing a chunk while it streams in, on a worker thread, from the bytes written.
 *
 * Each piece of a chunk is written at its offset in the .part file; as soon as that
 * write completed in full, the very bytes that were written are handed to a worker
 * thread, which feeds them to the chunk's SHA-256. So hashing overlaps receiving and
 * writing (the worker runs on another core than the socket, and the writes run on
 * Bun's I/O threads), and nothing is read back: the hash that decides whether the
 * chunk is good is the hash of exactly the bytes stored at their place in this
 * process (docs/file-sharing.md).
 *
 * The hand-over is zero-copy when it can be: a piece whose buffer holds nothing but
 * the piece (and at most its 9-byte DATA frame header, as the frame decoder makes for
 * a frame reassembled from several socket reads) is transferred to the worker; any
 * other piece is copied once into a buffer of its own. Either way the caller must not
 * use `bytes` again. (Measured, bench/README-transfer.md: copying every piece into a
 * pool of buffers that cycle between the threads instead was slower and used more
 * memory: the decoder's buffers then die on this thread and its collector pays.)
 *
 * If no worker can be started, the pieces are hashed on this thread (`onDisk`
 * false); the download then re-reads those chunks before assembling.
 */
import { createHash, type Hash } from "node:crypto";

/** One chunk being hashed: pieces are reported in file order, each once written. */
export interface HashJob {
  /**
   * Bytes [at, at + bytes.byteLength) of the file were written (in order within the
   * job). The job takes `bytes` (their buffer may be transferred to the worker, which
   * detaches it here); `hashed` runs once they are consumed, so the caller can count
   * them as in memory until then.
   */
  written(at: number, bytes: Uint8Array, hashed?: () => void): void;
  /** The hex digest of everything written, and whether it was hashed from the written bytes. */
  digest(): Promise<{ hash: string; onDisk: boolean }>;
  /** Forget the job (failed or cancelled transfer). */
  abort(): void;
}

// The worker's code, as plain JS, so it needs no extra entry point in the compiled program.
// Every "piece" message is acknowledged (even for an unknown or failed job), in order.
const WORKER_SOURCE = `
import { createHash } from "node:crypto";
const jobs = new Map();
let since = 0;
self.onmessage = (e) => {
  const m = e.data;
  if (m.op === "piece") {
    const j = jobs.get(m.id);
    if (j && !j.err) {
      try {
        if (m.at !== j.next) throw new Error("piece at " + m.at + ", expected " + j.next);
        j.h.update(m.bytes);
        j.next += m.bytes.byteLength;
      } catch (err) { j.err = String(err); }
    }
    postMessage(0);
    // Transferred pieces die here: collect now and then (this heap holds little else,
    // so a full collection is cheap), or they pile up between the engine's own.
    since += m.bytes.byteLength;
    if (since >= ${16 << 20}) { since = 0; Bun.gc(true); }
  } else if (m.op === "open") {
    jobs.set(m.id, { h: createHash("sha256"), next: m.at, err: null });
  } else if (m.op === "end" || m.op === "abort") {
    const j = jobs.get(m.id);
    jobs.delete(m.id);
    if (m.op === "end") postMessage(!j ? { id: m.id, err: "unknown job" } : j.err ? { id: m.id, err: j.err } : { id: m.id, hash: j.h.digest("hex") });
  }
};
`;

/** Largest DATA frame header in front of a piece whose buffer is still handed over whole. */
const FRAME_SLACK = 9;

type Waiter = { resolve: (r: { hash: string; onDisk: boolean }) => void; reject: (e: Error) => void };

class PieceHasher {
  private worker: Worker | null = null;
  private failed = false;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();
  /** Callbacks of the pieces posted and not yet acknowledged, in posting order. */
  private acks: ((() => void) | undefined)[] = [];
  private ackHead = 0;

  /** A job for one chunk; its first piece will be at `at`. */
  open(at = 0): HashJob {
    const w = this.start();
    if (!w) return memoryJob();
    const id = this.nextId++;
    w.postMessage({ op: "open", id, at });
    let done = false;
    return {
      written: (pos, bytes, hashed) => {
        if (done || this.worker !== w) return void hashed?.();
        // (Out of order pieces fail the job on the worker: digest rejects.)
        this.acks.push(hashed);
        // A copy in a buffer of its own when needed (not Buffer#slice: that is a view).
        const piece = whole(bytes) ? bytes : new Uint8Array(bytes);
        try {
          w.postMessage({ op: "piece", id, at: pos, bytes: piece }, [piece.buffer as ArrayBuffer]);
        } catch {
          // Not transferable after all: the message copies it.
          w.postMessage({ op: "piece", id, at: pos, bytes: piece });
        }
      },
      digest: () => {
        done = true;
        if (this.worker !== w) return Promise.reject(new Error("hash worker gone"));
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

/** The buffer holds these bytes and nothing else but a frame header in front: it may be handed over whole. */
function whole(b: Uint8Array): boolean {
  return b.byteOffset <= FRAME_SLACK && b.byteOffset + b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer;
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
