/**
 * Runs `flush(item)` for every item added, all together, once: at whatever moment
 * `defer` picks (the end of the current callback, of the event-loop turn, or a
 * timer). One scheduler is shared by many write queues, so a server that sends to
 * 1 000 links in one turn arms one deferral, not 1 000. Pure: it owns no timer,
 * `defer` is given.
 */
export type Defer = (run: () => void) => void;

export class FlushScheduler<T> {
  private due: T[] = [];
  private armed = false;

  constructor(
    private readonly defer: Defer,
    private readonly flush: (item: T) => void,
  ) {}

  /** Flush `item` at the next deferred run. Adding an item twice flushes it twice (flushes are idempotent). */
  add(item: T): void {
    this.due.push(item);
    if (!this.armed) {
      this.armed = true;
      this.defer(this.run);
    }
  }

  private readonly run = (): void => {
    this.armed = false;
    // By index with the length read each time: an item added while flushing (a
    // flush can close a link, whose consumer may send elsewhere) is flushed now too.
    const due = this.due;
    for (let i = 0; i < due.length; i++) this.flush(due[i]!);
    // A long list is dropped, not emptied: the engine would keep its storage (after a
    // login storm, one slot per link of the server, held for good).
    if (due.length > 64) this.due = [];
    else due.length = 0;
  };
}
