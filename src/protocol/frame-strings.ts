/**
 * Strings out of a frame's bytes, for the compact codec (compact.ts): a UTF-8 text
 * checked strictly, and user names interned by their bytes. Pure: no sockets.
 */

/**
 * Frames from a socket are Buffers (views of the read); a Uint8Array from elsewhere
 * (a test) is wrapped, uncopied, for Buffer's slicing.
 */
export function asBuffer(b: Uint8Array): SliceableBuffer {
  return (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)) as SliceableBuffer;
}

/**
 * Node's and Bun's Buffer have utf8Slice and utf8Write (toString and write without
 * their argument checks: measured 2× faster here); the typings leave them out.
 */
export type SliceableBuffer = Buffer & { utf8Slice(start: number, end: number): string; utf8Write(s: string, offset: number): number };

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The strings of the user names decoded lately, by their bytes: a name that comes
 * again (every message names its recipient or sender) is the same string as last
 * time, with no slice made and its hash already computed for the lookups that
 * follow (a fresh slice and its first hash measured ~90 ns a message; this ~20).
 * Bounded: names over NAME_MAX bytes are not kept, and the table starts over when full.
 */
class NameCache {
  private byHash = new Map<number, { bytes: Uint8Array; name: string }>();

  /** The name found last: a read's messages mostly name the same user, found with one compare. */
  private last: { bytes: Uint8Array; name: string } = { bytes: new Uint8Array(0), name: "" };

  get(b: SliceableBuffer, from: number, to: number): string | null {
    const n = to - from;
    if (n > NAME_MAX) return text(b, from, to);
    if (sameBytes(this.last.bytes, b, from, n)) return this.last.name;
    let h = 0x811c9dc5 ^ n;
    for (let i = from; i < to; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
    const hit = this.byHash.get(h);
    if (hit !== undefined && sameBytes(hit.bytes, b, from, n)) return (this.last = hit).name;
    const name = text(b, from, to);
    if (name === null) return null;
    if (this.byHash.size >= NAMES_KEPT) this.byHash = new Map();
    // A copy (new Uint8Array of a view): Buffer's slice() would keep a view of the frame's chunk.
    const entry = { bytes: new Uint8Array(b.subarray(from, to)), name };
    this.byHash.set(h, entry);
    this.last = entry;
    return name;
  }
}
const NAME_MAX = 64;
const NAMES_KEPT = 4096;

function sameBytes(a: Uint8Array, b: Uint8Array, at: number, n: number): boolean {
  if (a.byteLength !== n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[at + i]) return false;
  return true;
}

export const names = new NameCache();

/**
 * b[from, to) as a string, or null when it is not valid UTF-8. utf8Slice turns bad
 * bytes into U+FFFD; only a text that shows one is decoded again strictly (a real
 * U+FFFD is valid), so the common text pays one slice.
 */
export function text(b: SliceableBuffer, from: number, to: number): string | null {
  if (from === to) return "";
  const s = b.utf8Slice(from, to);
  if (!s.includes("\uFFFD")) return s;
  try {
    return strictUtf8.decode(b.subarray(from, to));
  } catch {
    return null;
  }
}
