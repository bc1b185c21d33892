/**
 * The download progress line (src/client/progress.ts): formatting and the rate meter.
 */
import { expect, test } from "bun:test";
import { RateMeter, bar, formatBytes, formatProgress } from "../../src/client/progress.ts";

test("formatBytes", () => {
  expect(formatBytes(0)).toBe("0 B");
  expect(formatBytes(1023)).toBe("1023 B");
  expect(formatBytes(1536)).toBe("1.5 KB");
  expect(formatBytes(20 * 1024 * 1024)).toBe("20 MB");
  expect(formatBytes(3.25 * 1024 ** 3)).toBe("3.3 GB");
});

test("bar fills in proportion, never beyond its width", () => {
  expect(bar(0, 10, 10)).toBe("░".repeat(10));
  expect(bar(5, 10, 10)).toBe("█".repeat(5) + "░".repeat(5));
  expect(bar(12, 10, 4)).toBe("████");
  expect(bar(1, 0, 4)).toBe("░░░░");
});

const p = { name: "holiday-video.mp4", chunksDone: 4, chunksTotal: 10, bytesDone: 4 << 20, bytesTotal: 10 << 20, bytesPerSecond: 1.5 * 1024 * 1024, peers: 3 };

test("the line shows chunks, bytes, rate and peers, and fits the width", () => {
  const wide = formatProgress(p, 100);
  expect(wide).toMatch(/^holiday-video\.mp4 \[█+░+\] 4\/10 chunks {2}4\.0 MB\/10 MB {2}1\.5 MB\/s {2}3 peers$/);
  expect(wide.length).toBeLessThanOrEqual(99);
  for (const cols of [80, 60, 50, 40, 20, 5]) {
    const line = formatProgress(p, cols);
    expect(line.length).toBeLessThanOrEqual(Math.max(10, cols - 1));
    if (cols >= 60) expect(line).toContain("4/10 chunks");
  }
  expect(formatProgress({ ...p, peers: 1 }, 100)).toEndWith("1 peer");
});

test("RateMeter: bytes per second over a sliding window", () => {
  let now = 0;
  const m = new RateMeter(2000, () => now);
  expect(m.rate()).toBe(0);
  m.add(1000);
  now = 1000;
  m.add(1000);
  expect(m.rate()).toBe(2000); // 2000 bytes over 1 s
  now = 2500; // the first sample left the window
  expect(m.rate()).toBe(1000 / 1.5);
  now = 10_000;
  expect(m.rate()).toBe(0);
});
