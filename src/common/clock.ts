/** Time, injected: the real one in the programs, a manual one in tests. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Run fn(arg) after ms milliseconds unless cancelled. With `arg`, one function
   * can serve many timers (the hub's one per session) instead of a closure each.
   */
  after<T = undefined>(ms: number, fn: (arg: T) => void, arg?: T): Timer;
}

/** A pending SystemTimers entry; cancel() just forgets the callback. */
class TimerEntry implements Timer {
  constructor(
    readonly at: number,
    readonly seq: number,
    public fn: ((arg: any) => void) | null,
    public arg: unknown,
  ) {}
  cancel(): void {
    if (this.fn) {
      this.fn = null;
      this.arg = undefined;
      timers.dead++;
    }
  }
}

/**
 * Real timers for many long-lived deadlines (one inactivity timer per logged-in
 * user): a binary heap of plain entries under a single setTimeout. A runtime timer
 * costs ~740 bytes of RSS each, an entry ~60 (measured with 20 000 of each), which
 * is most of a server's memory per idle connection beyond the socket itself.
 * Same order as setTimeout: by deadline, then by creation.
 */
class SystemTimers {
  private heap: TimerEntry[] = [];
  private seq = 0;
  private handle: ReturnType<typeof setTimeout> | null = null;
  private armedFor = Infinity;
  /** Cancelled entries still in the heap (dropped when they come up, or in a compaction). */
  dead = 0;

  after(ms: number, fn: (arg: any) => void, arg: unknown): Timer {
    const e = new TimerEntry(Date.now() + Math.max(0, ms), this.seq++, fn, arg);
    this.push(e);
    if (e.at < this.armedFor) this.arm();
    if (this.dead > 1024 && this.dead * 2 > this.heap.length) this.compact();
    return e;
  }

  private arm(): void {
    if (this.handle) clearTimeout(this.handle);
    const top = this.heap[0];
    if (!top) {
      this.handle = null;
      this.armedFor = Infinity;
      return;
    }
    this.armedFor = top.at;
    this.handle = setTimeout(this.fire, Math.max(0, top.at - Date.now()));
  }

  private fire = (): void => {
    this.handle = null;
    this.armedFor = Infinity;
    const now = Date.now();
    while (this.heap.length > 0 && this.heap[0]!.at <= now) {
      const e = this.pop();
      const fn = e.fn;
      if (!fn) {
        this.dead--;
        continue;
      }
      const arg = e.arg;
      e.fn = null;
      e.arg = undefined;
      try {
        fn(arg);
      } catch (err) {
        // As with setTimeout: a throwing callback must not stop the others.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    if (this.armedFor === Infinity) this.arm();
  };

  private compact(): void {
    const live = this.heap.filter((e) => e.fn !== null);
    this.heap = [];
    this.dead = 0;
    for (const e of live) this.push(e);
  }

  private less(a: TimerEntry, b: TimerEntry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(e: TimerEntry): void {
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(e, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  private pop(): TimerEntry {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const c = l + 1 < h.length && this.less(h[l + 1]!, h[l]!) ? l + 1 : l;
        if (!this.less(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

const timers = new SystemTimers();

export const systemClock: Clock = {
  now: () => Date.now(),
  after: (ms, fn, arg) => timers.after(ms, fn, arg),
};

/** A clock that only moves when told to; timers fire in order of their deadline. */
export class ManualClock implements Clock {
  private timers: { at: number; seq: number; fn: () => void; live: boolean }[] = [];
  private seq = 0;
  constructor(private t = 1_000_000) {}
  now(): number {
    return this.t;
  }
  after<T>(ms: number, fn: (arg: T) => void, arg?: T): Timer {
    const timer = { at: this.t + ms, seq: this.seq++, fn: () => fn(arg as T), live: true };
    this.timers.push(timer);
    return { cancel: () => void (timer.live = false) };
  }
  /** Move time forward by ms, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers
        .filter((x) => x.live && x.at <= end)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      due.live = false;
      this.t = due.at;
      due.fn();
    }
    this.timers = this.timers.filter((x) => x.live);
    this.t = end;
  }
}
