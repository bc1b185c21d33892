/**
 * SHA-256 of a file's chunks, read through one file handle in READ_PIECE pieces, so
 * memory does not grow with the file (register, and checks of the files folder).
 */
import { createHash } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
import { chunkRange } from "../../protocol/files.ts";

/** Bytes read at a time when hashing or checking a file. */
export const READ_PIECE = 1024 * 1024;

/** The hash of every chunk of the file at `path` (size bytes, n chunks). */
export async function hashChunks(path: string, size: number, n: number): Promise<string[]> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.allocUnsafe(READ_PIECE);
    const out: string[] = [];
    for (let c = 1; c <= n; c++) {
      const { start, end } = chunkRange(size, n, c);
      out.push(await hashRange(fh, buf, start, end));
    }
    return out;
  } finally {
    await fh.close();
  }
}

export async function hashRange(fh: FileHandle, buf: Buffer, start: number, end: number): Promise<string> {
  const h = createHash("sha256");
  for (let pos = start; pos < end; ) {
    const want = Math.min(buf.byteLength, end - pos);
    const { bytesRead } = await fh.read(buf, 0, want, pos);
    if (bytesRead <= 0) throw new Error("file shorter than expected");
    h.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return h.digest("hex");
}
