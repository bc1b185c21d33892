/**
 * Durable state behind small interfaces: the offline mailbox and the block lists.
 * The hub only sees these; which implementation sits behind is the server's choice.
 */
export type StoredMessage = { from: string; text: string; at: number };

export interface Mailbox {
  /** Append a message for `to`. Must be durable when it returns (SQLite store). */
  put(to: string, msg: StoredMessage): void;
  /** Messages for `to`, oldest first, and remove them. */
  takeAll(to: string): StoredMessage[];
  count(to: string): number;
}

export interface BlockList {
  /** Does `blocker` block `blocked`? */
  has(blocker: string, blocked: string): boolean;
  /** Everyone `blocker` blocks (undefined or empty: nobody). For fan-outs: one lookup instead of one per online user. */
  blockedBy(blocker: string): ReadonlySet<string> | undefined;
  /** Returns false if it was already there. */
  add(blocker: string, blocked: string): boolean;
  /** Returns false if it was not there. */
  remove(blocker: string, blocked: string): boolean;
}

export interface Store {
  readonly mailbox: Mailbox;
  readonly blocks: BlockList;
  close(): void;
}

export class MemoryMailbox implements Mailbox {
  private boxes = new Map<string, StoredMessage[]>();
  put(to: string, msg: StoredMessage): void {
    let box = this.boxes.get(to);
    if (!box) this.boxes.set(to, (box = []));
    box.push(msg);
  }
  takeAll(to: string): StoredMessage[] {
    const box = this.boxes.get(to) ?? [];
    this.boxes.delete(to);
    return box;
  }
  count(to: string): number {
    return this.boxes.get(to)?.length ?? 0;
  }
}

export class MemoryBlockList implements BlockList {
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

export function memoryStore(): Store {
  return { mailbox: new MemoryMailbox(), blocks: new MemoryBlockList(), close() {} };
}
