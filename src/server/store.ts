/**
 * Durable state behind small interfaces: the offline mailbox and the block lists.
 * The hub only sees these; which implementation sits behind is the server's choice
 * (memory, SQLite, or Redis for a cluster). Answers may arrive later (MaybePromise):
 * memory and SQLite answer at once, so their callers never wait.
 */
import type { MaybePromise } from "./maybe.ts";

export type StoredMessage = { from: string; text: string; at: number };
/** A stored message with its place in its recipient's mailbox. */
export type QueuedMessage = StoredMessage & { seq: number };

/**
 * A write or read of the durable store failed (disk full, read-only file, I/O
 * error). The hub turns it into a `storage_failure` reply; anything else thrown
 * by a store is a bug.
 */
export class StoreError extends Error {}

/**
 * Offline messages, kept until the recipient's client acknowledges them (behaviour.md §8):
 * delivery peeks, the client's ack deletes.
 */
export interface Mailbox {
  /**
   * Append a message for `to`; returns its sequence number, greater than that of
   * every message put for `to` before. Durable when it returns (SQLite store).
   */
  put(to: string, msg: StoredMessage): MaybePromise<number>;
  /** Up to `limit` messages for `to` with seq > afterSeq, oldest first. Removes nothing. */
  peek(to: string, afterSeq: number, limit: number): MaybePromise<QueuedMessage[]>;
  /** Remove `to`'s messages with seq <= upToSeq. */
  ack(to: string, upToSeq: number): MaybePromise<void>;
  count(to: string): MaybePromise<number>;
}

export interface BlockList {
  /** Does `blocker` block `blocked`? */
  has(blocker: string, blocked: string): MaybePromise<boolean>;
  /** Everyone `blocker` blocks (undefined or empty: nobody). For fan-outs: one lookup instead of one per online user. */
  blockedBy(blocker: string): MaybePromise<ReadonlySet<string> | undefined>;
  /** Returns false if it was already there. */
  add(blocker: string, blocked: string): MaybePromise<boolean>;
  /** Returns false if it was not there. */
  remove(blocker: string, blocked: string): MaybePromise<boolean>;
}

export interface Store {
  readonly mailbox: Mailbox;
  readonly blocks: BlockList;
  close(): void;
}

/** A mailbox that answers at once (memory, SQLite). */
export interface LocalMailbox extends Mailbox {
  put(to: string, msg: StoredMessage): number;
  peek(to: string, afterSeq: number, limit: number): QueuedMessage[];
  ack(to: string, upToSeq: number): void;
  count(to: string): number;
}

/** A block list that answers at once (memory, SQLite). */
export interface LocalBlockList extends BlockList {
  has(blocker: string, blocked: string): boolean;
  blockedBy(blocker: string): ReadonlySet<string> | undefined;
  add(blocker: string, blocked: string): boolean;
  remove(blocker: string, blocked: string): boolean;
}

/** A store in this process (memory, SQLite): every answer is immediate. */
export interface LocalStore extends Store {
  readonly mailbox: LocalMailbox;
  readonly blocks: LocalBlockList;
}

export class MemoryMailbox implements LocalMailbox {
  /** Per recipient, oldest first; seqs come from one counter, so they increase per recipient too. */
  private boxes = new Map<string, QueuedMessage[]>();
  private lastSeq = 0;
  put(to: string, msg: StoredMessage): number {
    let box = this.boxes.get(to);
    if (!box) this.boxes.set(to, (box = []));
    const seq = ++this.lastSeq;
    box.push({ from: msg.from, text: msg.text, at: msg.at, seq });
    return seq;
  }
  peek(to: string, afterSeq: number, limit: number): QueuedMessage[] {
    const box = this.boxes.get(to);
    if (!box) return [];
    // Seqs increase along the box: binary search for the first one after `afterSeq`.
    let lo = 0;
    let hi = box.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (box[mid]!.seq <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    return box.slice(lo, lo + limit);
  }
  ack(to: string, upToSeq: number): void {
    const box = this.boxes.get(to);
    if (!box) return;
    let n = 0;
    while (n < box.length && box[n]!.seq <= upToSeq) n++;
    if (n === box.length) this.boxes.delete(to);
    else box.splice(0, n);
  }
  count(to: string): number {
    return this.boxes.get(to)?.length ?? 0;
  }
}

export class MemoryBlockList implements LocalBlockList {
  private byBlocker = new Map<string, Set<string>>();
  has(blocker: string, blocked: string): boolean {
    return this.byBlocker.get(blocker)?.has(blocked) ?? false;
  }
  blockedBy(blocker: string): ReadonlySet<string> | undefined {
    return this.byBlocker.get(blocker);
  }
  add(blocker: string, blocked: string): boolean {
    let set = this.byBlocker.get(blocker);
    if (!set) this.byBlocker.set(blocker, (set = new Set()));
    if (set.has(blocked)) return false;
    set.add(blocked);
    return true;
  }
  remove(blocker: string, blocked: string): boolean {
    return this.byBlocker.get(blocker)?.delete(blocked) ?? false;
  }
}

export function memoryStore(): LocalStore {
  return { mailbox: new MemoryMailbox(), blocks: new MemoryBlockList(), close() {} };
}
