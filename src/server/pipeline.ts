/**
 * OrderedReplies — the replies of requests that overlap, sent in request order.
 *
 * Why overlap at all: a session's requests are otherwise handled one at a time, so a
 * user sending to someone on another server has one message on the way per Redis
 * round trip, whatever their client's window (bench/cluster.ts measured 7k msgs/s for
 * 100 senders). Which requests may overlap is the rules' call (message-rules.ts
 * `sentWithoutWaiting`): those whose every effect is fixed, in order, when they are
 * handled. Everything else waits until the overlapping ones are all answered.
 */
import { isPromise, type MaybePromise } from "./maybe.ts";

export class OrderedReplies {
  private tail: Promise<void> = Promise.resolve();
  private n = 0;

  /** `idle` runs when the last reply added so far has been sent; `fail` on a rule's bug. */
  constructor(
    private readonly idle: () => void,
    private readonly fail: (e: unknown) => void,
  ) {}

  /** How many replies are not sent yet. */
  get size(): number {
    return this.n;
  }

  /** `send(reply)` once `reply` is ready and every reply added before it has been sent. */
  add<T>(reply: MaybePromise<T>, send: (r: T) => void): void {
    this.n++;
    const ready = isPromise(reply) ? reply : Promise.resolve(reply);
    this.tail = Promise.all([this.tail, ready]).then(
      ([, r]) => this.done(() => send(r)),
      (e) => this.done(() => this.fail(e)),
    );
  }

  private done(step: () => void): void {
    try {
      step();
    } finally {
      if (--this.n === 0) this.idle();
    }
  }
}
