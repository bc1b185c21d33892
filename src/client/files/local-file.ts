/**
 * What the files folder knows of one file (store.ts keeps these), and small helpers
 * around it that other parts of file sharing use.
 */

export type LocalFile = {
  name: string;
  size: number;
  hashes: string[];
  /** Chunks (1-based) held and verified. All of them when complete. */
  have: Set<number>;
  /** Assembled at <files>/<name> and checked as a whole. */
  complete: boolean;
  /** Of <files>/<name> when it was recorded; a complete file whose mtime or size changed is no longer shared. */
  mtimeMs?: number;
  /** Chunks whose bytes this process hashed as it wrote them, or read back, and found good (not persisted). */
  checked: Set<number>;
};

export class LocalNameTaken extends Error {
  constructor(readonly fileName: string) {
    super(`another file named ${fileName} is in the files folder`);
  }
}

/** Chunks 1..n. */
export function allChunks(n: number): Set<number> {
  const s = new Set<number>();
  for (let c = 1; c <= n; c++) s.add(c);
  return s;
}

export function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
