/**
 * Delay before retrying a failed blocking read: doubles from `firstMs` up to `maxMs`,
 * back to the start after a success. Pure; the caller waits on its clock.
 * Why: a down Redis rejects at once (offline queue disabled), so a retry loop without
 * a delay would spin the CPU for the whole outage.
 */
export class Backoff {
  private next: number;
  constructor(
    private readonly firstMs = 50,
    private readonly maxMs = 1000,
  ) {
    this.next = firstMs;
  }
  /** The delay to wait now; the following one doubles. */
  delay(): number {
    const d = this.next;
    this.next = Math.min(this.maxMs, this.next * 2);
    return d;
  }
  reset(): void {
    this.next = this.firstMs;
  }
}
