/**
 * Caps on connections that have not logged in yet (behaviour.md §8), per source address
 * and in total. A connection counts from accept until it logs in or closes; logged-in
 * connections are not capped per address (a whole lab may sit behind one address).
 * Each costs the server a small constant until the pre-login limit closes it
 * (docs/limits.md); these caps bound how many such constants one sender can stack.
 * Pure: the server calls it on accept, login and close.
 */
export type AdmissionLimits = {
  /** Connections not yet logged in from one source address. */
  perAddress: number;
  /** Connections not yet logged in, from everywhere. */
  total: number;
};

export const DEFAULT_ADMISSION: AdmissionLimits = { perAddress: 256, total: 4096 };

export type Refusal = { cap: "address" | "total"; detail: string };

export class Admission {
  /** sid → source address, for connections not yet logged in. */
  private waiting = new Map<number, string>();
  private perHost = new Map<string, number>();

  constructor(readonly limits: AdmissionLimits = DEFAULT_ADMISSION) {}

  /** Connections not yet logged in, in all and from `host`. */
  get pending(): number {
    return this.waiting.size;
  }
  from(host: string): number {
    return this.perHost.get(host) ?? 0;
  }

  /** A new connection: null if it may go on (it now counts), else why not (it does not count). */
  admit(sid: number, host: string): Refusal | null {
    const n = this.from(host);
    if (n >= this.limits.perAddress) {
      return { cap: "address", detail: `${n} connections from ${host} are already waiting to log in (limit ${this.limits.perAddress})` };
    }
    if (this.waiting.size >= this.limits.total) {
      return { cap: "total", detail: `${this.waiting.size} connections are already waiting to log in (limit ${this.limits.total})` };
    }
    this.waiting.set(sid, host);
    this.perHost.set(host, n + 1);
    return null;
  }

  /** The connection logged in, or closed: it no longer counts. Any number of times. */
  release(sid: number): void {
    const host = this.waiting.get(sid);
    if (host === undefined) return;
    this.waiting.delete(sid);
    const n = this.from(host) - 1;
    if (n > 0) this.perHost.set(host, n);
    else this.perHost.delete(host);
  }
}
