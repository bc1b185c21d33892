/**
 * Offline delivery (behaviour.md §5, §8): the stored backlog goes out at login in paced
 * batches, and leaves the store only when acknowledged.
 *
 * - A batch is at most about BATCH_BYTES; the next one is sent when the link has
 *   room again (Outbox.whenDrained), so a recipient that does not read costs the
 *   server a few MiB of queued output, not its whole mailbox, and the backlog
 *   counts against the outbound cap like everything else.
 * - Version 2 sessions get each message's `seq` and acknowledge cumulatively
 *   (`ack {upTo}`); only acknowledged messages are deleted, so what a cut
 *   connection did not confirm is delivered again at the next login, in order.
 * - Version 1 sessions cannot ack: their messages are deleted as each batch is
 *   handed to the link (the behaviour of version 1).
 * - While a backlog drains, new messages for that user join the mailbox behind it
 *   (message-rules), so the user sees everything in the order it was sent.
 */
import type { HubContext, Session } from "./hub-context.ts";
import { isOutage } from "./cluster/errors.ts";
import { isPromise, type MaybePromise } from "./maybe.ts";
import { StoreError, type QueuedMessage } from "./store.ts";

/** Bytes (about) of offline messages handed to the link per batch. */
export const BATCH_BYTES = 256 * 1024;
/**
 * Rows read from the store per batch: at first FIRST_ROWS, then as many as the
 * previous batch's average size says fit in BATCH_BYTES (reading 512 rows of 4 KiB
 * to send 64 of them made most of a never-reading login's memory churn).
 */
const FIRST_ROWS = 64;
const MAX_ROWS = 1024;
/** JSON framing around a message's from and text, about (frame header, keys, seq). */
const MSG_OVERHEAD = 64;

/** A session just logged in: start sending its backlog. */
export function startDelivery(hub: HubContext, s: Session): void {
  s.sentSeq = 0;
  s.ackedSeq = 0;
  s.draining = true;
  sendBatch(hub, s);
}

/** One batch, then wait for the link to drain (or stop: nothing left, session gone, store failed). */
function sendBatch(hub: HubContext, s: Session): void {
  if (s.stage !== "in" || s.closing || !s.draining) return;
  const limit = s.batchRows ?? FIRST_ROWS;
  // A store that answers at once (memory, SQLite) goes straight on: no closure per
  // login, whose mailbox is nearly always empty (a login storm's CPU is mostly the
  // JIT compiling what every login runs; less code here is less to compile).
  let rows: MaybePromise<QueuedMessage[]>;
  try {
    rows = hub.store.mailbox.peek(s.user!, s.sentSeq!, limit);
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
    return stopped(hub, s, e);
  }
  if (!isPromise(rows)) return sendRows(hub, s, rows, limit);
  settle(hub, rows, (r) => sendRows(hub, s, r, limit), (e) => stopped(hub, s, e));
}

/** Left in the store: delivered at the next login. */
function stopped(hub: HubContext, s: Session, e: Error): void {
  hub.log.debug(`session ${s.sid}: offline delivery to ${s.user} stopped: ${e.message}`);
  s.draining = false;
}

function sendRows(hub: HubContext, s: Session, rows: QueuedMessage[], limit: number): void {
  // The session may have ended while the store answered.
  if (s.stage !== "in" || s.closing || !s.draining) return;
  let bytes = 0;
  let sent = 0;
  const withSeq = s.v !== 1;
  for (const r of rows) {
    hub.out.send(s.sid, withSeq ? { t: "msg", from: r.from, text: r.text, kind: "offline", seq: r.seq } : { t: "msg", from: r.from, text: r.text, kind: "offline" });
    s.sentSeq = r.seq;
    sent++;
    bytes += r.from.length + r.text.length + MSG_OVERHEAD;
    if (bytes >= BATCH_BYTES) break;
  }
  if (!withSeq && sent > 0) remove(hub, s, s.sentSeq!, () => {});
  // Fewer rows than asked for, all sent: the mailbox holds nothing newer right now.
  if (rows.length < limit && sent === rows.length) {
    s.draining = false;
    return;
  }
  s.batchRows = Math.min(MAX_ROWS, Math.max(1, Math.ceil((BATCH_BYTES * sent) / bytes)));
  hub.out.whenDrained(s.sid, () => sendBatch(hub, s));
}

/** `ack {upTo}` from a session of version 2 or later: delete what it has shown, never beyond what it was sent. */
export function acknowledge(hub: HubContext, s: Session, upTo: number): void {
  if (s.v === 1) {
    hub.log.debug(`session ${s.sid}: ack from a version 1 session ignored`);
    return;
  }
  const to = Math.min(upTo, s.sentSeq ?? 0);
  if (to <= (s.ackedSeq ?? 0)) return;
  remove(hub, s, to, () => {
    s.ackedSeq = Math.max(s.ackedSeq ?? 0, to);
    hub.log.debug(`session ${s.sid}: ${s.user} acknowledged up to ${to}`);
  });
}

function remove(hub: HubContext, s: Session, upTo: number, done: () => void): void {
  attempt(
    hub,
    () => hub.store.mailbox.ack(s.user!, upTo),
    done,
    // Not deleted: shown again at the next login (at least once, behaviour.md §8).
    (e) => hub.log.debug(`session ${s.sid}: acknowledged messages of ${s.user} not deleted: ${e.message}`),
  );
}

/** Run a store step; its value goes to `ok`, a StoreError (thrown or rejected) to `failed`; anything else is a bug. */
function attempt<T>(hub: HubContext, step: () => MaybePromise<T>, ok: (v: T) => void, failed: (e: Error) => void): void {
  let v: MaybePromise<T>;
  try {
    v = step();
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
    return failed(e);
  }
  if (!isPromise(v)) return ok(v);
  settle(hub, v, ok, failed);
}

/** A store step's answer that comes later: as attempt() treats one that is ready. */
function settle<T>(hub: HubContext, v: Promise<T>, ok: (v: T) => void, failed: (e: Error) => void): void {
  const bug = (e: unknown) => hub.log.debug(`internal error in offline delivery: ${(e as Error).stack ?? e}`);
  // Redis unreachable (a cluster) is a failure like a store's: left in the mailbox.
  v.then(ok, (e) => (e instanceof StoreError || isOutage(e) ? failed(e as Error) : bug(e))).catch(bug);
}
