import { describe, expect, test } from "bun:test";
import { Histogram, Samples } from "../../bench/lib/stats.ts";

describe("bench Histogram (the direct scenario's latencies)", () => {
  test("its percentiles are the exact ones rounded up to the next 10 µs", () => {
    const exact = new Samples();
    const hist = new Histogram(100);
    let seed = 7;
    for (let k = 0; k < 50_000; k++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const ms = (seed / 2 ** 31) ** 3 * 40; // skewed: most small, a long tail
      exact.add(ms);
      hist.add(ms);
    }
    expect(hist.count).toBe(50_000);
    const ps = [0, 1, 50, 90, 99, 99.9, 100];
    const want = exact.percentiles(...ps);
    const got = hist.percentiles(...ps);
    ps.forEach((_, k) => {
      expect(got[k]!).toBeGreaterThanOrEqual(want[k]!);
      expect(got[k]! - want[k]!).toBeLessThanOrEqual(0.01 + 1e-9);
    });
  });

  test("a sample on a bucket's edge stays in that bucket; zero and below count as the first", () => {
    const h = new Histogram(10);
    h.add(0.02);
    h.add(0);
    h.add(-1);
    expect(h.percentiles(100, 66)).toEqual([0.02, 0.01]);
  });

  test("a sample past the range counts as its end; no sample gives NaN", () => {
    const h = new Histogram(5);
    expect(h.percentiles(50)).toEqual([NaN]);
    h.add(1);
    h.add(60_000);
    expect(h.percentiles(50, 100)).toEqual([1, 5]);
  });
});
