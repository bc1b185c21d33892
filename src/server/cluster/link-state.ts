/**
 * Is Redis reachable, and since when — decided from what commands report, fed by
 * RedisLink (pure: no I/O, time passed in).
 *
 * Bun's client cannot be asked reliably: `onclose` fires only when it gives up, and
 * a frozen Redis keeps `connected` true while answering nothing. So the truth is
 * what commands see: any answer means up, an outage (closed connection, timeout)
 * means down. `upSince` is when the current up period began; the liveness judge
 * uses it (a node that was cut off must not reap others until they had time to beat).
 */
export type Transition = "up" | "down" | null;

export class LinkState {
  private isUp: boolean;
  private since: number;

  /** Starts up: RedisLink is made only after a first connection succeeded. */
  constructor(now: number) {
    this.isUp = true;
    this.since = now;
  }

  get up(): boolean {
    return this.isUp;
  }

  /** When the current up (or down) period began. */
  get upSince(): number | null {
    return this.isUp ? this.since : null;
  }

  /** A command got an answer (even an error reply). Returns "up" on a change. */
  answered(now: number): Transition {
    if (this.isUp) return null;
    this.isUp = true;
    this.since = now;
    return "up";
  }

  /** A command got no answer (connection lost, timed out). Returns "down" on a change. */
  failed(now: number): Transition {
    if (!this.isUp) return null;
    this.isUp = false;
    this.since = now;
    return "down";
  }

  /** Has the link been up, without a break, for at least ms? */
  upFor(now: number, ms: number): boolean {
    return this.isUp && now - this.since >= ms;
  }
}
