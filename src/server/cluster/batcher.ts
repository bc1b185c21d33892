/**
 * Batcher — gathers what is sent to the same destination during one event-loop turn
 * and hands it over as one batch, in the order it was added (the bus turns a batch
 * into ONE XADD: one script run and one fsync shared by all, instead of one each).
 * Each add() resolves or rejects with its batch's outcome.
 *
 * Why per turn: the hub handles the frames of every socket that became readable in
 * one turn before the next; a flush scheduled with setImmediate therefore sees all
 * the messages those frames produced. Batches for one destination are flushed in
 * the order they were made, and the link writes its commands in call order on one
 * connection, so stream order = add() order. A batch holds at most `max` items (a
 * bigger turn makes several, still in order), so one stream entry stays bounded.
 *
 * Pure apart from the injected `schedule` (setImmediate in the server, manual in tests).
 */
export type FlushFn<T, R> = (key: string, items: T[]) => Promise<R>;

type Pending<T, R> = { items: T[]; waiters: { resolve(r: R): void; reject(e: unknown): void }[] };

export class Batcher<T, R> {
  private pending = new Map<string, Pending<T, R>[]>();
  private scheduled = false;

  constructor(
    private readonly flushFn: FlushFn<T, R>,
    private readonly schedule: (fn: () => void) => void = setImmediate,
    private readonly max = 256,
  ) {}

  add(key: string, item: T): Promise<R> {
    let list = this.pending.get(key);
    if (!list) this.pending.set(key, (list = []));
    let last = list[list.length - 1];
    if (!last || last.items.length >= this.max) list.push((last = { items: [], waiters: [] }));
    last.items.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.flush());
    }
    return new Promise<R>((resolve, reject) => last!.waiters.push({ resolve, reject }));
  }

  /** Hand every gathered batch over now (destinations in first-use order, batches in order). */
  flush(): void {
    this.scheduled = false;
    const all = this.pending;
    this.pending = new Map();
    for (const [key, batches] of all) {
      for (const b of batches) {
        let p: Promise<R>;
        try {
          p = this.flushFn(key, b.items);
        } catch (e) {
          p = Promise.reject(e);
        }
        p.then(
          (r) => b.waiters.forEach((w) => w.resolve(r)),
          (e) => b.waiters.forEach((w) => w.reject(e)),
        );
      }
    }
  }
}
