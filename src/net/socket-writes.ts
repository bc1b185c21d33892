/**
 * Where a Link's WriteQueue meets Bun: the flush schedulers every link shares,
 * the write policy made once per listener, and the socket as a WriteSink.
 */
import { FlushScheduler } from "./flush-scheduler.ts";
import { WriteQueue, type WritePolicy, type WriteSink } from "./write-queue.ts";

// Held sends are written at the end of the callback that made them (a
// microtask), or with `flushPerTurn` once every socket event of the turn is
// handled (setImmediate). One deferral serves every link that has something
// held. (Presence notices wait for company in the hub instead: notice-batch.ts.)
const flush = (q: WriteQueue): void => q.flush();
const perCallback = new FlushScheduler<WriteQueue>(queueMicrotask, flush);
const perTurn = new FlushScheduler<WriteQueue>(setImmediate, flush);

/** The limits and schedulers for links made with these options (one object for all of a listener's links). */
export function writePolicy(opts: { highWater?: number; maxQueued?: number; flushPerTurn?: boolean }): WritePolicy {
  return {
    highWater: opts.highWater ?? 1 << 20,
    maxQueued: opts.maxQueued ?? 64 << 20,
    soon: opts.flushPerTurn ? perTurn : perCallback,
  };
}

/** A link's socket as its write queue sees it; a failed write destroys the link. */
export class SocketSink implements WriteSink {
  constructor(
    private readonly sock: { write(bytes: Uint8Array): number },
    private readonly link: { destroy(reason: string): void },
  ) {}

  /** socket.write, never throwing: -1 when the socket is gone. */
  write(bytes: Uint8Array): number {
    try {
      return this.sock.write(bytes);
    } catch {
      return -1;
    }
  }

  writeFailed(reason: string): void {
    this.link.destroy(reason);
  }
}
