/**
 * Run something at most once every `everyMs`, with the latest request always served:
 * a request inside the interval is run when the interval is over (one timer at most).
 * The terminal's progress line is redrawn through this.
 */
import type { Clock, Timer } from "../common/clock.ts";

export class Throttle {
  private timer: Timer | null = null;
  private ranAt = -Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly everyMs: number,
    private readonly fn: () => void,
  ) {}

  /** Run now if the interval since the last run is over, else once it is (if not already due). */
  request(): void {
    if (this.timer) return; // a run is already due and will see the latest state
    const wait = this.ranAt + this.everyMs - this.clock.now();
    if (wait <= 0) return this.run();
    this.timer = this.clock.after(wait, () => {
      this.timer = null;
      this.run();
    });
  }

  /** Forget a run that is due. */
  cancel(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  private run(): void {
    this.ranAt = this.clock.now();
    this.fn();
  }
}
