/** Small statistics helpers: latency samples and histograms, percentiles, medians. */

/** A growable list of latency samples (ms) with percentiles. */
export class Samples {
  private buf = new Float64Array(1024);
  private n = 0;
  add(v: number): void {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }
  get count(): number {
    return this.n;
  }
  /** p in [0, 100]; nearest-rank. NaN when empty. */
  percentiles(...ps: number[]): number[] {
    if (this.n === 0) return ps.map(() => NaN);
    const sorted = this.buf.slice(0, this.n).sort();
    return ps.map((p) => sorted[Math.min(this.n - 1, Math.max(0, Math.ceil((p / 100) * this.n) - 1))]!);
  }
}

/**
 * Latencies (ms) counted in fixed 10 µs buckets up to `maxMs`, for runs of millions of
 * samples. All its memory is taken (and touched) when it is made, so recording never
 * allocates: a growable array that doubles while the run goes (Samples) stalls the load
 * generator for tens of milliseconds at each doubling (a 64 MiB copy into fresh pages at
 * 8 M samples), and every message in flight meanwhile shows that stall as latency.
 * Percentiles are nearest-rank, reported as the bucket's upper edge (≤ 10 µs high);
 * a sample over `maxMs` counts as `maxMs`.
 */
export class Histogram {
  /** Buckets per millisecond. */
  static readonly PER_MS = 100;
  private readonly counts: Uint32Array;
  private n = 0;
  constructor(readonly maxMs = 10_000) {
    this.counts = new Uint32Array(maxMs * Histogram.PER_MS);
    this.counts.fill(1); // touch every page now, not during the run
    this.counts.fill(0);
  }
  add(ms: number): void {
    const i = Math.ceil(ms * Histogram.PER_MS) - 1;
    this.counts[i < 0 ? 0 : i < this.counts.length ? i : this.counts.length - 1]!++;
    this.n++;
  }
  get count(): number {
    return this.n;
  }
  /** p in [0, 100]; nearest-rank. NaN when empty. */
  percentiles(...ps: number[]): number[] {
    return ps.map((p) => {
      if (this.n === 0) return NaN;
      const rank = Math.min(this.n, Math.max(1, Math.ceil((p / 100) * this.n)));
      let seen = 0;
      for (let i = 0; i < this.counts.length; i++) {
        seen += this.counts[i]!;
        if (seen >= rank) return (i + 1) / Histogram.PER_MS;
      }
      return this.maxMs;
    });
  }
}

/** Median of the finite numbers in xs (NaN if there are none). */
export function median(xs: (number | null | undefined)[]): number {
  const v = xs.filter((x): x is number => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}
