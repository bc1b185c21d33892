/**
 * A link's outbound bytes, without the socket: Bun's socket.write() sends what
 * the kernel takes and drops the rest (it returns the count taken, -1 once the
 * socket is closed), so everything goes through this queue, written again on
 * `drain`. Pure: it is given where to write (a WriteSink) and its flush schedulers.
 *
 * Write coalescing. Small sends are held and written together once the
 * `soon` scheduler runs (the end of the callback that made them, or of the
 * event-loop turn): a chunk of 32 messages then costs the sender one write and
 * the receiver one, instead of 64 syscalls. Sends of SMALL_MAX bytes or more
 * (file data) are written at once, after what is held, so order is kept and big
 * payloads are never copied.
 */
import type { FlushScheduler } from "./flush-scheduler.ts";

/** Sends below this many bytes are held and coalesced; bigger ones are written uncopied. */
export const SMALL_MAX = 16 * 1024;
/**
 * Most bytes held (or gathered from the queue) for one write: bounds `scratch`
 * (a long run of sends, e.g. the offline backlog, is written as it goes).
 */
export const HELD_LIMIT = 64 * 1024;

/** Where a queue's bytes go: the socket, in the glue (link.ts); a fake kernel in tests. */
export interface WriteSink {
  /**
   * Hands bytes to the kernel; returns how many it took, or -1 when the socket
   * is gone. Never throws. It must not keep the view: `bytes` may be a shared
   * scratch buffer, overwritten after the call (the kernel copies).
   */
  write(bytes: Uint8Array): number;
  /** The bytes cannot go (write returned -1, or the peer is not reading); called once, after close(). */
  writeFailed(reason: string): void;
}

/** idle: nothing held; heldTurn: held for the `soon` scheduler. */
export type HoldState = "idle" | "heldTurn";

/** Limits and schedulers; one object may serve every queue of a listener (nothing per link). */
export interface WritePolicy {
  /** send() returns false once this many bytes wait. */
  highWater: number;
  /** More than this waiting means the peer is not reading. */
  maxQueued: number;
  /** Flushes what send() held. */
  soon: FlushScheduler<WriteQueue>;
}

/**
 * Writes a frame of at most `max` bytes (sendWith) into `buf` at `at`; returns the
 * bytes written. A Buffer: its utf8Write encodes a string in place.
 */
export type FrameFill<T> = (value: T, buf: Buffer, at: number) => number;

/** Size of a tail buffer (sendWith): held bytes never exceed HELD_LIMIT, most turns hold a few KiB. */
export const TAIL_BYTES = 16 * 1024;
/**
 * Most tail buffers lent at once (every queue that holds sendWith frames in this
 * turn has one): 4 MiB. Past it a frame is encoded into an array of its own and
 * held like any send, so a turn that reaches 10 000 links costs no more than before.
 */
export const TAILS_MAX = 256;

/**
 * Tail buffers, lent to queues while they hold frames and given back once those
 * are written. A relaying server's frames are then encoded straight into the
 * bytes its write hands to the kernel: no array per frame, no gathering copy.
 */
class TailPool {
  private free: Tail[] = [];
  private lent = 0;
  take(): Tail | null {
    if (this.lent >= TAILS_MAX) return null;
    this.lent++;
    const t = this.free.pop() ?? { buf: Buffer.allocUnsafeSlow(TAIL_BYTES), start: 0, end: 0 };
    t.start = t.end = 0;
    return t;
  }
  give(t: Tail): void {
    this.lent--;
    this.free.push(t);
  }
}

/** A lent buffer and the stretch [start, end) of it not yet in `held` (bytes before start are). */
type Tail = { buf: Buffer; start: number; end: number };
const tails = new TailPool();

/** One buffer, shared by every queue, to gather held frames into a single write (write() copies to the kernel). */
let scratch = new Uint8Array(HELD_LIMIT);

function gather(parts: Uint8Array[], count: number, total: number): Uint8Array {
  if (count === 1) return parts[0]!;
  if (scratch.byteLength < total) scratch = new Uint8Array(Math.max(total, scratch.byteLength * 2));
  for (let i = 0, at = 0; i < count; at += parts[i]!.byteLength, i++) scratch.set(parts[i]!, at);
  return scratch.subarray(0, total);
}

/** What onDrain() goes through when nothing is queued (never written to). */
const NOTHING: Uint8Array[] = [];

export class WriteQueue {
  // The three arrays exist only while they hold something: an idle link (most of a
  // server's links, most of the time) then costs no array at all.
  /** Bytes the kernel did not take yet, in order; written on drain. Never empty: null instead. */
  private queue: Uint8Array[] | null = null;
  /** Held small sends (only while `queue` is null), written by flush(); the tail's bytes come after them. */
  private held: Uint8Array[] | null = null;
  /** sendWith frames held, written into a lent buffer (TailPool); only while `queue` is null, given back by flush. */
  private tail: Tail | null = null;
  private state: HoldState | "closed" = "idle";
  /** Bytes in `queue` and `held`. */
  private queued = 0;
  private sent = 0;
  /** drained() callers waiting for the queue to go under the high-water mark. */
  private waiters: (() => void)[] | null = null;

  constructor(
    private readonly sink: WriteSink,
    readonly policy: WritePolicy,
  ) {}

  get queuedBytes(): number {
    return this.queued;
  }
  /** Bytes the kernel has taken so far (kept after close). */
  get sentBytes(): number {
    return this.sent;
  }
  /** Bytes wait for a drain (held bytes do not count: flush() writes them). */
  get hasBacklog(): boolean {
    return this.queue !== null;
  }
  get holdState(): HoldState {
    return this.state === "closed" ? "idle" : this.state;
  }
  get isClosed(): boolean {
    return this.state === "closed";
  }

  /**
   * Bytes in `held`: all of `queued` while anything is held, as `queue` is then
   * null (sends are held only while it is, and whatever queues flushes `held`
   * first). Not a field: an idle server keeps one queue per connection.
   */
  private get heldBytes(): number {
    return this.held === null && this.tail === null ? 0 : this.queued;
  }

  /**
   * Queue bytes. Returns false when the caller should await drained(), or when
   * the queue is closed (then the bytes are dropped).
   */
  send(bytes: Uint8Array): boolean {
    if (this.isClosed) return false;
    if (this.heldBytes + bytes.byteLength > HELD_LIMIT) {
      this.flush();
      if (this.isClosed) return false;
    }
    if (this.queue === null && bytes.byteLength < SMALL_MAX) {
      if (this.state !== "heldTurn") {
        this.state = "heldTurn";
        this.policy.soon.add(this);
      }
      return this.hold(bytes);
    }
    if (this.held !== null || this.tail !== null) this.flush();
    if (this.isClosed) return false;
    if (this.queue === null) {
      const n = this.writeOrFail(bytes);
      if (n < 0) return false;
      if (n === bytes.byteLength) return true;
      bytes = bytes.subarray(n);
    }
    return this.enqueue(bytes) && this.queued < this.policy.highWater;
  }

  /**
   * send() for a frame of at most `max` bytes that `fill` writes: into this queue's
   * tail buffer when it is holding (no array of its own, no copy at flush), else
   * into an array of its own, sent as send() would.
   */
  sendWith<T>(max: number, fill: FrameFill<T>, value: T): boolean {
    if (this.isClosed) return false;
    if (this.heldBytes + max > HELD_LIMIT) {
      this.flush();
      if (this.isClosed) return false;
    }
    if (this.queue === null && max < SMALL_MAX) {
      const tail = (this.tail ??= tails.take());
      if (tail !== null && tail.buf.byteLength - tail.end >= max) {
        if (this.state !== "heldTurn") {
          this.state = "heldTurn";
          this.policy.soon.add(this);
        }
        const n = fill(value, tail.buf, tail.end);
        tail.end += n;
        this.queued += n;
        return this.stillReading() && this.queued < this.policy.highWater;
      }
    }
    const own = Buffer.allocUnsafe(max);
    return this.send(own.subarray(0, fill(value, own, 0)));
  }

  /** Write what is held, as one write; queue what the kernel did not take. */
  flush(): void {
    if (this.state === "closed") return;
    this.state = "idle";
    // The tail's last stretch joins the parts; a tail alone is written as it is.
    this.closeTailStretch();
    const held = this.held;
    if (held === null) return this.giveTail();
    const n = held.length;
    const total = this.heldBytes;
    const out = gather(held, n, total);
    // Dropped, not emptied (length = 0): the engine keeps a grown array's storage
    // (after a login storm, KiBs per idle link; measured with heap stats).
    this.held = null;
    this.queued -= total;
    // The queue is empty here: sends are held only while it is, and anything that
    // queues (a big send, this) writes the held bytes first.
    const w = this.writeOrFail(out);
    if (w >= 0 && w < total) {
      // scratch and the tail are reused: keep a copy of the rest (a Uint8Array made
      // from it: a tail is a Buffer, whose slice() is a view, not a copy).
      const rest = n === 1 && this.tail === null ? out.subarray(w) : new Uint8Array(out.subarray(w));
      this.enqueue(rest);
    } else if (w === total && this.waiters !== null && this.queued < this.policy.highWater) {
      this.wake();
    }
    this.giveTail();
  }

  /** The socket can take more: write the queue until the kernel stops taking it. */
  onDrain(): void {
    const q = this.queue ?? NOTHING;
    while (q.length > 0) {
      // Small queued frames leave together, up to HELD_LIMIT per write (an offline
      // backlog of 100 000 frames was 100 000 writes); big ones alone, uncopied.
      let k = 1;
      let total = q[0]!.byteLength;
      if (total < SMALL_MAX) {
        while (k < q.length && q[k]!.byteLength < SMALL_MAX && total + q[k]!.byteLength <= HELD_LIMIT) total += q[k++]!.byteLength;
      }
      const n = this.write(gather(q, k, total));
      if (n < 0) return; // gone: the socket's close handler ends the link
      this.queued -= n;
      if (n < total) {
        let done = 0;
        let left = n;
        for (; done < k && left >= q[done]!.byteLength; done++) left -= q[done]!.byteLength;
        q[done] = q[done]!.subarray(left);
        q.splice(0, done);
        // Under the mark though not empty: a producer waiting in drained() may go on.
        if (this.waiters !== null && this.queued < this.policy.highWater) this.wake();
        return;
      }
      q.splice(0, k);
    }
    // Dropped: a drained long queue would otherwise keep its storage.
    this.queue = null;
    if (this.queued < this.policy.highWater) this.wake();
  }

  /** Resolves when under the high-water mark again (or closed). */
  drained(): Promise<void> {
    if (this.queued < this.policy.highWater || this.isClosed) return Promise.resolve();
    return new Promise((r) => (this.waiters ??= []).push(r));
  }

  /** Drop everything and release drained() waiters. Idempotent; sentBytes is kept. */
  close(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.queue = null;
    this.held = null;
    this.giveTail();
    this.queued = 0;
    this.wake();
  }

  /** The tail's bytes not yet in `held` become a part of it (a view: the tail stays lent until flush). */
  private closeTailStretch(): void {
    const t = this.tail;
    if (t === null || t.end === t.start) return;
    (this.held ??= []).push(t.buf.subarray(t.start, t.end));
    t.start = t.end;
  }

  /** Nothing held refers to the tail any more: give it back. */
  private giveTail(): void {
    if (this.tail === null) return;
    tails.give(this.tail);
    this.tail = null;
  }

  private hold(bytes: Uint8Array): boolean {
    this.closeTailStretch();
    (this.held ??= []).push(bytes);
    this.queued += bytes.byteLength;
    return this.stillReading() && this.queued < this.policy.highWater;
  }

  /** Queue bytes for the next drain; false if that shows the peer is not reading. */
  private enqueue(bytes: Uint8Array): boolean {
    (this.queue ??= []).push(bytes);
    this.queued += bytes.byteLength;
    return this.stillReading();
  }

  /** The one "peer not reading" check: fails the queue when more waits than allowed. */
  private stillReading(): boolean {
    if (this.queued <= this.policy.maxQueued) return true;
    this.fail(`peer not reading (${this.queued} bytes queued)`);
    return false;
  }

  private write(bytes: Uint8Array): number {
    const n = this.sink.write(bytes);
    if (n > 0) this.sent += n;
    return n;
  }

  private writeOrFail(bytes: Uint8Array): number {
    const n = this.write(bytes);
    if (n < 0) this.fail("socket closed");
    return n;
  }

  private fail(reason: string): void {
    this.close();
    this.sink.writeFailed(reason);
  }

  private wake(): void {
    const w = this.waiters;
    if (w === null) return;
    this.waiters = null;
    for (const f of w) f();
  }
}
