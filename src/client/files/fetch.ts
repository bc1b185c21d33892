/**
 * Fetching one chunk from one peer (the requester side of a chunk transfer).
 *
 * The holder streams the chunk as DATA frames of at most DATA_PIECE bytes, which
 * the peer link hands on in the pieces the socket reads bring (no gathering). Each
 * piece goes to the piece worker (piece-worker.ts), which writes it at its offset in
 * the target (.part) file and hashes those same bytes: no read-back, and writing and
 * hashing overlap receiving (measured, bench/README-transfer.md). The socket's read
 * buffers are handed over to the worker whole, so nothing is copied on this thread.
 * While more than PAUSE_AT bytes of a link wait for the worker, that link is paused:
 * TCP then pushes back on the holder, so memory stays at a few pieces whatever the
 * file size. The chunk is good only if its SHA-256 equals the registry's; the
 * caller marks it held only then.
 */
import { constants as fsc } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import type { Clock, Timer } from "../../common/clock.ts";
import type { Logger } from "../../common/logger.ts";
import type { PeerMsg } from "../../protocol/messages.ts";
import { pieceWorker, type PieceJob } from "./piece-worker.ts";
import { ignored } from "../ignored.ts";
import { transferred } from "./gc.ts";
import type { PeerConn } from "../peer/conn.ts";

/** Why a fetch ended. */
export type FetchOutcome = "ok" | "not_held" | "bad_name" | "busy" | "verify" | "gone" | "stalled" | "error";
/** How a fetch ended; `onDisk`: the verifying hash was taken from the bytes as written to the .part file. */
export type FetchResult = { outcome: FetchOutcome; onDisk: boolean };

/** Where a chunk goes and what it must hash to. */
export type ChunkTarget = { path: string; start: number; size: number; hash: string };

/** Pause reading a link while this many received bytes wait for the piece worker; resume under RESUME_AT. */
export const PAUSE_AT = 2 << 20;
export const RESUME_AT = 512 << 10;
/** A transfer that makes no progress for this long is given up (and cancelled). */
export const STALL_MS = 15_000;

type Incoming = {
  req: number;
  target: ChunkTarget;
  fh: FileHandle;
  job: PieceJob;
  started: boolean;
  received: number;
  finished: boolean;
  timer: Timer | null;
  /** When the stream last made progress (ms, the clock's now()). */
  progressAt: number;
  onBytes?: (n: number) => void;
  done: (r: FetchResult) => void;
};

/** The requester side of one peer link: its open chunk requests. */
export class ChunkClient {
  private nextReq = 1;
  private readonly streams = new Map<number, Incoming>();
  /** Bytes received on this link and not yet written and hashed. */
  private pending = 0;
  private paused = false;

  constructor(
    readonly conn: PeerConn,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  get active(): number {
    return this.streams.size;
  }

  /** Ask for chunk `c` of `name` and write it to `target`; resolves with the outcome (never rejects). */
  async fetch(name: string, c: number, target: ChunkTarget, onBytes?: (n: number) => void): Promise<FetchResult> {
    if (!this.conn.link.isOpen) return { outcome: "gone", onDisk: false };
    let fh: FileHandle;
    try {
      // Never through a link planted at the .part path: ELOOP, nothing written.
      fh = await open(target.path, fsc.O_RDWR | fsc.O_NOFOLLOW);
    } catch (e) {
      this.log.debug(`fetch ${name}#${c}: cannot open ${target.path}: ${(e as Error).message}`);
      return { outcome: "error", onDisk: false };
    }
    const req = this.nextReq++;
    let resolve!: (r: FetchResult) => void;
    const result = new Promise<FetchResult>((r) => (resolve = r));
    const job = pieceWorker.open(target.start, (why) => {
      this.log.debug(`writing ${target.path}: ${why}`);
      if (!s.finished) this.fail(s, "error");
    });
    const s: Incoming = {
      req, target, fh, job, started: false, received: 0,
      finished: false, timer: null, progressAt: 0, onBytes,
      done: (r) => {
        if (s.finished) return;
        s.finished = true;
        this.streams.delete(req);
        s.timer?.cancel();
        s.timer = null;
        resolve(r);
      },
    };
    this.streams.set(req, s);
    this.arm(s);
    if (!this.conn.link.isOpen) s.done({ outcome: "gone", onDisk: false });
    else this.conn.send({ t: "chunk_get", req, name, chunk: c });
    await result;
    // The worker writes through fh: close it only once the worker is done with the job.
    await job.abort();
    // Closing a file we only wrote at offsets: a failure loses nothing (the hash decided).
    await fh.close().catch(ignored(this.log, `closing ${target.path}`, undefined));
    return result;
  }

  /** A chunk_ok / chunk_none for one of our requests. */
  onMessage(msg: Extract<PeerMsg, { t: "chunk_ok" | "chunk_none" }>): void {
    const s = this.streams.get(msg.req);
    if (!s) return; // cancelled or finished: late answers are harmless
    if (msg.t === "chunk_none") return s.done({ outcome: msg.reason, onDisk: false });
    if (s.started || msg.size !== s.target.size) {
      this.log.debug(`peer ${this.conn.user}: chunk_ok of ${msg.size} bytes, expected ${s.target.size}`);
      return this.fail(s, "error");
    }
    s.started = true;
    this.arm(s);
    if (s.target.size === 0) this.allIn(s);
  }

  /**
   * The next piece of stream `req`'s DATA. The piece is a view of a socket read
   * buffer that nobody else keeps (Link's `streamData`), so that buffer is handed
   * over to the hasher.
   */
  onData(req: number, payload: Uint8Array): void {
    const s = this.streams.get(req);
    if (!s) return; // after a cancel, pieces still in flight are dropped
    const n = payload.byteLength;
    if (!s.started || s.received + n > s.target.size) {
      this.log.debug(`peer ${this.conn.user}: unexpected data on stream ${req}`);
      return this.fail(s, "error");
    }
    if (n === 0) return;
    // Handed-over reads die on the worker, which collects them itself; only pieces
    // kept on this thread (no worker) need gc.ts's watch.
    if (!pieceWorker.offThread) transferred(n);
    const at = s.target.start + s.received;
    this.pending += n;
    try {
      s.job.store(s.fh.fd, at, payload, () => this.unpend(n), true);
    } catch (e) {
      // (Only without a worker: on it, a failed write reaches fetch's onError.)
      this.pending -= n;
      this.log.debug(`write at ${at}: ${(e as Error).message}`);
      return this.fail(s, "error");
    }
    s.received += n;
    s.onBytes?.(n);
    this.arm(s);
    if (!this.paused && this.pending > PAUSE_AT) {
      this.paused = true;
      this.conn.link.pause();
    }
    if (s.received === s.target.size) this.allIn(s);
  }

  /** The link is gone: every open request fails. */
  onGone(): void {
    for (const s of [...this.streams.values()]) s.done({ outcome: "gone", onDisk: false });
  }

  private unpend(n: number): void {
    this.pending -= n;
    if (this.paused && this.pending < RESUME_AT) {
      this.paused = false;
      this.conn.link.resume();
    }
  }

  /** Every byte arrived and is written: compare the hash. */
  private allIn(s: Incoming): void {
    s.timer?.cancel();
    s.timer = null;
    s.job.digest().then(
      ({ hash, onDisk }) => s.done({ outcome: hash === s.target.hash ? "ok" : "verify", onDisk }),
      (e) => {
        this.log.debug(`hashing stream ${s.req}: ${(e as Error).message}`);
        s.done({ outcome: "error", onDisk: false });
      },
    );
  }

  private fail(s: Incoming, o: FetchOutcome): void {
    if (this.conn.link.isOpen) this.conn.send({ t: "chunk_cancel", req: s.req });
    s.done({ outcome: o, onDisk: false });
  }

  /**
   * Progress on a stream that is still receiving: it is given up STALL_MS after the
   * last progress. One timer per STALL_MS, not one per piece: when it fires early
   * (there was progress since), it waits for the rest of the time.
   */
  private arm(s: Incoming): void {
    s.progressAt = this.clock.now();
    if (s.timer) return;
    const check = (wait: number) => {
      s.timer = this.clock.after(wait, () => {
        s.timer = null;
        if (s.finished) return;
        const left = s.progressAt + STALL_MS - this.clock.now();
        if (left > 0) return check(left);
        this.log.debug(`peer ${this.conn.user}: stream ${s.req} stalled`);
        this.fail(s, "stalled");
      });
    };
    check(STALL_MS);
  }
}
