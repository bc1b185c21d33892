/**
 * Will a download fit? The pure arithmetic behind the free-space check made before
 * anything is created for a download (the I/O, statfs of the files folder, is in
 * store.ts).
 */
import { chunkRange } from "../../protocol/files.ts";

/** Bytes a download still has to put on disk: the file minus the chunks already held. */
export function bytesStillNeeded(size: number, n: number, have: Iterable<number>): number {
  let held = 0;
  for (const c of have) {
    const r = chunkRange(size, n, c);
    held += r.end - r.start;
  }
  return Math.max(0, size - held);
}

/** Space free for this process on a file system, from statfs: blocks available to unprivileged users × block size. */
export function freeBytes(st: { bavail: number | bigint; bsize: number | bigint }): number {
  return Number(st.bavail) * Number(st.bsize);
}

/** Room kept free beyond a download's bytes: its manifest and their rewrites need some too. */
export const SPACE_RESERVE = 1 << 20;

/** Whether `needed` more bytes fit in `free` with SPACE_RESERVE to spare (nothing more always fits). */
export function fits(needed: number, free: number): boolean {
  return needed === 0 || needed + SPACE_RESERVE <= free;
}
