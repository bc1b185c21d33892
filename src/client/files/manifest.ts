/**
 * A files-folder manifest (docs/file-sharing.md): what is recorded of one file, as
 * JSON, and the checks a manifest read back must pass. Pure: the store does the I/O.
 */
import { badFileName, HASH_RE, validShape } from "../../protocol/files.ts";

export type Manifest = { v: 1; name: string; size: number; hashes: string[]; have: number[]; complete: boolean; mtimeMs?: number };

/** The manifest of a file in the store's terms. */
export function toManifest(f: { name: string; size: number; hashes: string[]; have: Set<number>; complete: boolean; mtimeMs?: number }): Manifest {
  return {
    v: 1, name: f.name, size: f.size, hashes: f.hashes,
    have: [...f.have].sort((a, b) => a - b), complete: f.complete,
    ...(f.mtimeMs !== undefined ? { mtimeMs: f.mtimeMs } : {}),
  };
}

/** The manifest in `text` if it is a well-formed one for `name`, else null (throws on text that is not JSON). */
export function parseManifest(name: string, text: string): Manifest | null {
  if (badFileName(name)) return null;
  const m = JSON.parse(text) as Manifest;
  if (m?.v !== 1 || m.name !== name || !Array.isArray(m.hashes) || !Array.isArray(m.have)) return null;
  if (!validShape(m.size, m.hashes.length) || !m.hashes.every((h) => typeof h === "string" && HASH_RE.test(h))) return null;
  const n = m.hashes.length;
  if (!m.have.every((c) => Number.isSafeInteger(c) && c >= 1 && c <= n)) return null;
  return m;
}
