/**
 * File sharing on the wire (behaviour.md §6 "File sharing"): what a shared file's name may
 * be, how a file is cut into chunks, and the limits. Both programs use this, so the
 * server's registry and every client agree on chunk boundaries byte for byte.
 * Pure: no I/O.
 */

/** Chunks a file is split into when `register` is given no count (behaviour.md §6). */
export const DEFAULT_CHUNKS = 10;
/**
 * Most chunks a file may have. Bounded by the client↔server frame (64 KiB): a
 * register carries one 64-hex-digit hash per chunk, and a search answer carries
 * the hashes plus one holder map per holder.
 */
export const MAX_CHUNKS = 256;
/** Largest file size, so that chunk boundaries stay exact in double arithmetic. */
export const MAX_FILE_SIZE = Math.floor(Number.MAX_SAFE_INTEGER / MAX_CHUNKS);
/** The usual file-system limit on one file name, in bytes. */
export const FS_NAME_BYTES = 255;
/**
 * Longest shared file name, in UTF-8 bytes. A client keeps files named after it
 * (`<name>.json`, `<name>.part`, `<name>.copy`, `<name>.json.tmp`, at most 9 bytes
 * more), and each must fit FS_NAME_BYTES; 15 bytes are kept for such names.
 * The server refuses a registration over it too, so no file is registered that
 * a client could not store.
 */
export const MAX_NAME_BYTES = FS_NAME_BYTES - 15;

const utf8 = new TextEncoder();

/**
 * Why `name` cannot be a shared file's name, or null if it can. A name is one path
 * component of a files folder: not empty, no `/` or `\`, not `.` or `..`, no NUL or
 * other control characters, and not starting with `.` (hidden names are reserved for
 * the client's own bookkeeping, see docs/file-sharing.md).
 */
export function badFileName(name: string): string | null {
  if (name.length === 0) return "empty name";
  if (utf8.encode(name).byteLength > MAX_NAME_BYTES) return "name too long";
  if (name.includes("/") || name.includes("\\")) return "name contains a path separator";
  if (name.startsWith(".")) return "name starts with a dot";
  // C0, DEL and C1 controls (NUL included): never part of a name we create or show.
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return "name contains a control character";
  return null;
}

export const isFileName = (name: string): boolean => badFileName(name) === null;

/** A lower-case hex SHA-256 digest. */
export const HASH_RE = /^[0-9a-f]{64}$/;

/**
 * How many chunks a file of `size` bytes gets when `wanted` are asked for: never
 * more chunks than bytes (every chunk holds at least one byte), and an empty file
 * is one empty chunk.
 */
export function chunkCount(size: number, wanted: number): number {
  return Math.max(1, Math.min(wanted, size));
}

/**
 * Byte range [start, end) of chunk `c` (1-based) of a file of `size` bytes in `n`
 * chunks: chunk c starts at floor((c-1)·size/n). Sizes differ by at most one byte.
 */
export function chunkRange(size: number, n: number, c: number): { start: number; end: number } {
  return { start: boundary(size, n, c - 1), end: boundary(size, n, c) };
}

export function chunkSize(size: number, n: number, c: number): number {
  const r = chunkRange(size, n, c);
  return r.end - r.start;
}

/** floor(i·size/n), exact for size ≤ MAX_FILE_SIZE and i ≤ n ≤ MAX_CHUNKS. */
function boundary(size: number, n: number, i: number): number {
  const p = i * size;
  return (p - (p % n)) / n;
}

/**
 * Whether (size, chunk count) is a shape the protocol allows: a count in
 * 1..MAX_CHUNKS that chunkCount() could have produced for this size.
 */
export function validShape(size: number, n: number): boolean {
  return (
    Number.isSafeInteger(size) && size >= 0 && size <= MAX_FILE_SIZE &&
    Number.isSafeInteger(n) && n >= 1 && n <= MAX_CHUNKS && n <= Math.max(1, size)
  );
}
