/**
 * Presence notices in batches. Everyone online hears of each login and logout
 * (behaviour.md §5), so a login storm of 1 000 logins is ~500 000 notices; sent one
 * by one, each was a lookup, a queued send and a copy per recipient — most of a
 * login's CPU (profiled). Here the notices of one window (NOTICE_WINDOW_MS) go into
 * one list, and when it ends each member gets its part of the list as one run
 * (Outbox.sendRun: the server encodes the list once, and the run is a slice of it).
 *
 * Each session gets exactly what sending every notice at once would have given it,
 * in the same order with everything else it is sent:
 * - only notices announced while it was a member (a session that logs in
 *   mid-window does not hear of the logins before its own);
 * - none it was excepted from (its own, those of users who block it);
 * - anything else sent to it (send, sendMany, sendRun, close) first sends what it
 *   has pending, so a notice never overtakes an older message, nor a newer one it.
 *
 * Pure: no sockets, no bytes; time from the injected clock. It is the hub's Outbox,
 * wrapping the server's.
 */
import type { Clock, Timer } from "../common/clock.ts";
import type { ServerMsg } from "../protocol/messages.ts";
import type { Notices, Outbox } from "./hub-context.ts";

/** How long a notice may wait for company (as long as a presence notice was held in the write queue before batching). */
export const NOTICE_WINDOW_MS = 100;

export class NoticeBatch implements Outbox, Notices {
  /** The window's notices; a new array per window (the server keeps the encoding of the current one). */
  private list: ServerMsg[] = [];
  /** Number, counted since the start, of list[0]. Numbers below are absolute. */
  private base = 0;
  /** Member session → number of the first notice it has not been sent yet. */
  private readonly members = new Map<number, number>();
  /** Session → numbers of its pending notices it must not get, ascending. */
  private readonly skips = new Map<number, number[]>();
  private timer: Timer | undefined;

  constructor(
    private readonly out: Outbox,
    private readonly clock: Clock,
    private readonly windowMs = NOTICE_WINDOW_MS,
  ) {}

  /** Notices waiting for the window's end. */
  get pending(): number {
    return this.list.length;
  }

  /** `sid` hears of every notice announced from now on (a login, after it entered the presence map). */
  join(sid: number): void {
    this.members.set(sid, this.base + this.list.length);
  }

  /** `sid` hears of nothing more (it logged out): it is sent what it has pending, as if sent at once. */
  leave(sid: number): void {
    if (this.list.length > 0) this.sendPending(sid);
    this.members.delete(sid);
    this.skips.delete(sid);
  }

  /** `msg` for every member but those in `except` (sessions, members or not; repeats allowed). */
  announce(msg: ServerMsg, except: readonly number[]): void {
    const at = this.base + this.list.length;
    this.list.push(msg);
    // An array, read by index: every login runs this, and a for-of's iterator is more for the JIT to compile.
    for (let k = 0; k < except.length; k++) {
      const sid = except[k]!;
      const next = this.members.get(sid);
      if (next === undefined || next > at) continue;
      // Nothing pending before this one: just start after it (the announcer's own notice).
      if (next === at) {
        this.members.set(sid, at + 1);
        continue;
      }
      const skip = this.skips.get(sid);
      if (!skip) this.skips.set(sid, [at]);
      else if (skip[skip.length - 1] !== at) skip.push(at);
    }
    this.timer ??= this.clock.after(this.windowMs, () => {
      this.timer = undefined;
      this.flush();
    });
  }

  /** Send every member its pending notices now (the window's end). */
  flush(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.list.length === 0) return;
    for (const sid of this.members.keys()) this.sendPending(sid);
    this.base += this.list.length;
    this.list = [];
    this.skips.clear();
  }

  send(sid: number, msg: ServerMsg): void {
    if (this.list.length > 0) this.sendPending(sid);
    this.out.send(sid, msg);
  }

  sendMany(sids: number[], msg: ServerMsg): void {
    if (this.list.length > 0) for (const sid of sids) this.sendPending(sid);
    this.out.sendMany(sids, msg);
  }

  sendRun(sid: number, list: readonly ServerMsg[], from: number, to: number): void {
    if (this.list.length > 0) this.sendPending(sid);
    this.out.sendRun(sid, list, from, to);
  }

  /** After what it has pending; a closed session hears of nothing more. */
  close(sid: number): void {
    this.leave(sid);
    this.out.close(sid);
  }

  whenDrained(sid: number, fn: () => void): void {
    this.out.whenDrained(sid, fn);
  }

  /** `sid`'s notices not sent yet, as runs of the list around those it must not get. */
  private sendPending(sid: number): void {
    const next = this.members.get(sid);
    const end = this.base + this.list.length;
    if (next === undefined || next >= end) return;
    this.members.set(sid, end);
    let from = next - this.base;
    const skip = this.skips.get(sid);
    if (skip) {
      this.skips.delete(sid);
      for (const n of skip) {
        const i = n - this.base;
        if (i > from) this.out.sendRun(sid, this.list, from, i);
        from = i + 1;
      }
    }
    if (from < this.list.length) this.out.sendRun(sid, this.list, from, this.list.length);
  }
}
