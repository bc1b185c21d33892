/**
 * OrderedReplies — replies of overlapping requests, sent in the order the requests
 * came, whatever order they become ready in (pure; pipeline.ts says which overlap).
 */
import { isPromise, type MaybePromise } from "./maybe.ts";

type Slot = { ready: boolean; run: () => void };

export class OrderedReplies {
  /** Replies not sent yet, oldest first; each is sent once it and all before it are ready. */
  private slots: Slot[] = [];
  private head = 0;
  private draining = false;

  /** `idle` runs when every reply added so far has been sent; `fail` on a rule's bug. */
  constructor(
    private readonly idle: () => void,
    private readonly fail: (e: unknown) => void,
  ) {}

  /** How many replies are not sent yet. */
  get size(): number {
    return this.slots.length - this.head;
  }

  /** `send(reply)` once `reply` is ready and every reply added before it has been sent. */
  add<T>(reply: MaybePromise<T>, send: (r: T) => void): void {
    if (!isPromise(reply)) {
      this.slots.push({ ready: true, run: () => send(reply) });
      return this.drain();
    }
    const slot: Slot = { ready: false, run: () => {} };
    this.slots.push(slot);
    reply.then(
      (r) => this.settle(slot, () => send(r)),
      (e) => this.settle(slot, () => this.fail(e)),
    );
  }

  private settle(slot: Slot, run: () => void): void {
    slot.ready = true;
    slot.run = run;
    this.drain();
  }

  /** Send what is ready at the head, in order; once all are sent, `idle` (which may add more). */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.head < this.slots.length && this.slots[this.head]!.ready) {
        const slot = this.slots[this.head++]!;
        try {
          slot.run();
        } catch (e) {
          this.fail(e);
        }
      }
    } finally {
      this.draining = false;
    }
    if (this.head < this.slots.length) return;
    this.slots = [];
    this.head = 0;
    this.idle();
  }
}
