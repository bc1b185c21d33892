/**
 * Keeping a big transfer's memory flat. Every socket read and every reassembled or
 * read piece is a fresh buffer that lives a moment; the garbage collector, left to
 * itself, lets tens of MiB of them pile up while a file streams at hundreds of MiB/s
 * (a 1 GiB download peaked at ~125 MiB resident without this, see
 * bench/README-transfer.md). So transfers report the bytes they move here, and every
 * CHECK_EVERY bytes the resident size is looked at (a few µs): once it has grown
 * HEADROOM over what was left after the last collection (and is over FLOOR), a
 * collection is run. Small transfers and idle clients pay nothing.
 */

/** Bytes moved between two looks at the resident size. */
export const CHECK_EVERY = 8 << 20;
/** Growth of the resident size, since the last collection, that triggers the next. */
export const HEADROOM = 8 << 20;
/** Below this resident size no collection is ever forced. */
export const FLOOR = 64 << 20;

let moved = 0;
let limit = FLOOR;

/** `n` more bytes went through a transfer (received or sent). */
export function transferred(n: number): void {
  moved += n;
  if (moved < CHECK_EVERY) return;
  moved = 0;
  if (process.memoryUsage.rss() <= limit) return;
  Bun.gc(true);
  limit = Math.max(FLOOR, process.memoryUsage.rss() + HEADROOM);
}
