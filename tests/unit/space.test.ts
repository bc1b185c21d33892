/**
 * The arithmetic of the free-space check made before a download creates anything
 * (src/client/files/space.ts).
 */
import { describe, expect, test } from "bun:test";
import { bytesStillNeeded, fits, freeBytes, SPACE_RESERVE } from "../../src/client/files/space.ts";
import { chunkRange } from "../../src/protocol/files.ts";

describe("free-space check", () => {
  test("what is still needed is the file minus the chunks held, chunk sizes as the registry cuts them", () => {
    expect(bytesStillNeeded(1000, 4, [])).toBe(1000);
    expect(bytesStillNeeded(1000, 4, [1, 3])).toBe(500);
    expect(bytesStillNeeded(1000, 4, [1, 2, 3, 4])).toBe(0);
    // Uneven chunks: 10 bytes in 3 chunks are 3, 3, 4.
    expect(bytesStillNeeded(10, 3, [3])).toBe(6);
    expect(bytesStillNeeded(10, 3, [1])).toBe(7);
    const tib = 2 ** 40;
    const c7 = chunkRange(tib, 10, 7);
    expect(bytesStillNeeded(tib, 10, [7])).toBe(tib - (c7.end - c7.start));
    expect(bytesStillNeeded(0, 1, [])).toBe(0);
  });

  test("free bytes are blocks available to the user times the block size, numbers or bigints", () => {
    expect(freeBytes({ bavail: 10, bsize: 4096 })).toBe(40960);
    expect(freeBytes({ bavail: 3n, bsize: 512n })).toBe(1536);
  });

  test("a download fits only with SPACE_RESERVE to spare", () => {
    const free = 100 << 20;
    expect(fits(free - SPACE_RESERVE, free)).toBe(true);
    expect(fits(free - SPACE_RESERVE + 1, free)).toBe(false);
    expect(fits(1, SPACE_RESERVE)).toBe(false);
    expect(fits(1, SPACE_RESERVE + 1)).toBe(true);
    // Nothing left to fetch (the file is held): no space needed, even on a full disk.
    expect(fits(0, 0)).toBe(true);
    expect(fits(2 ** 40, 77 * 2 ** 30)).toBe(false);
  });
});
