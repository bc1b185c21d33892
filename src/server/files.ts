/**
 * The file registry (SPEC §6 "File sharing"): per file its name, size, chunk count
 * and the SHA-256 of every chunk; per chunk which users hold it.
 *
 * Only online users count as holders: the hub calls dropUser() when a session ends,
 * and a file whose last holder went offline is forgotten (its metadata included), so
 * memory follows what online users share. Clients announce again what their files
 * folder holds when they log in (docs/file-sharing.md). Pure: no I/O, no time.
 */
import { badFileName, HASH_RE, MAX_CHUNKS, validShape } from "../protocol/files.ts";

export type RegistryLimits = {
  /** Files known at once (each costs up to MAX_CHUNKS hashes). */
  maxFiles: number;
  /** Files one user may hold at once. */
  maxFilesPerUser: number;
  /** Budget, in bytes of JSON, for the holder part of one search answer. */
  answerBudget: number;
};

/** Sized for a 64 KiB client↔server frame: hashes take at most 256 × 67 bytes. */
export const DEFAULT_REGISTRY_LIMITS: RegistryLimits = { maxFiles: 10_000, maxFilesPerUser: 1_000, answerBudget: 36_000 };

export type RegisterOutcome =
  | { code: "new" }
  | { code: "same" }
  | { code: "conflict"; size: number; hashes: string[] }
  | { code: "full" }
  | { code: "bad"; why: string };

export type HaveOutcome = "ok" | "not_found" | "bad" | "full";

/** What a search shows one asker: holders as names plus one '0'/'1' map per holder. */
export type SearchAnswer = { size: number; hashes: string[]; users: string[]; maps: string[] };

type Entry = {
  size: number;
  hashes: string[];
  /** user → the chunks (1-based) they hold. */
  holders: Map<string, Set<number>>;
};

export class FileRegistry {
  private readonly files = new Map<string, Entry>();
  /** user → names of the files they hold something of (for dropUser). */
  private readonly byUser = new Map<string, Set<string>>();

  constructor(private readonly limits: RegistryLimits = DEFAULT_REGISTRY_LIMITS) {}

  get fileCount(): number {
    return this.files.size;
  }

  /**
   * `user` says they hold file `name` of `size` bytes with these chunk hashes: the
   * chunks in `have`, or all of them when `have` is absent.
   */
  register(user: string, name: string, size: number, hashes: string[], have?: number[]): RegisterOutcome {
    const badName = badFileName(name);
    if (badName) return { code: "bad", why: badName };
    if (!validShape(size, hashes.length)) return { code: "bad", why: "size and chunk count do not fit" };
    if (!hashes.every((h) => HASH_RE.test(h))) return { code: "bad", why: "a hash is not 64 lower-case hex digits" };
    const chunks = have ?? hashes.map((_, i) => i + 1);
    if (!validChunks(chunks, hashes.length)) return { code: "bad", why: "chunk numbers out of range" };

    const known = this.files.get(name);
    if (known) {
      if (known.size !== size || !sameList(known.hashes, hashes)) {
        return { code: "conflict", size: known.size, hashes: known.hashes };
      }
      if (!this.mayHold(user, name)) return { code: "full" };
      this.add(known, user, name, chunks);
      return { code: "same" };
    }
    if (this.files.size >= this.limits.maxFiles || !this.mayHold(user, name)) return { code: "full" };
    const entry: Entry = { size, hashes: [...hashes], holders: new Map() };
    this.files.set(name, entry);
    this.add(entry, user, name, chunks);
    return { code: "new" };
  }

  /** `user` now also holds these chunks of a registered file (a verified download). */
  have(user: string, name: string, chunks: number[]): HaveOutcome {
    const entry = this.files.get(name);
    if (!entry) return "not_found";
    if (!validChunks(chunks, entry.hashes.length)) return "bad";
    if (!this.mayHold(user, name)) return "full";
    this.add(entry, user, name, chunks);
    return "ok";
  }

  /** `user` went offline: they hold nothing any more; files nobody holds are forgotten. */
  dropUser(user: string): void {
    const names = this.byUser.get(user);
    if (!names) return;
    this.byUser.delete(user);
    for (const name of names) {
      const entry = this.files.get(name);
      if (!entry) continue;
      entry.holders.delete(user);
      if (entry.holders.size === 0) this.files.delete(name);
    }
  }

  /**
   * File `name` as `visible` lets the asker see it: holders the predicate hides are
   * left out. Holders holding the most chunks come first; if the answer would not
   * fit its byte budget, the tail is cut. Undefined if the file is not registered.
   */
  search(name: string, visible: (user: string) => boolean): SearchAnswer | undefined {
    const entry = this.files.get(name);
    if (!entry) return undefined;
    const n = entry.hashes.length;
    const holders = [...entry.holders]
      .filter(([u]) => visible(u))
      .sort((a, b) => b[1].size - a[1].size || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const users: string[] = [];
    const maps: string[] = [];
    let bytes = 0;
    for (const [u, held] of holders) {
      const cost = JSON.stringify(u).length + n + 4;
      if (bytes + cost > this.limits.answerBudget) break;
      bytes += cost;
      const map = new Array<string>(n).fill("0");
      for (const c of held) map[c - 1] = "1";
      users.push(u);
      maps.push(map.join(""));
    }
    return { size: entry.size, hashes: [...entry.hashes], users, maps };
  }

  /** The holders of chunk `c` of `name` (all of them, unfiltered); for tests and debugging. */
  holdersOf(name: string, c: number): string[] {
    const entry = this.files.get(name);
    if (!entry) return [];
    return [...entry.holders].filter(([, s]) => s.has(c)).map(([u]) => u);
  }

  private mayHold(user: string, name: string): boolean {
    const mine = this.byUser.get(user);
    return !!mine?.has(name) || (mine?.size ?? 0) < this.limits.maxFilesPerUser;
  }

  private add(entry: Entry, user: string, name: string, chunks: number[]): void {
    let held = entry.holders.get(user);
    if (!held) entry.holders.set(user, (held = new Set()));
    for (const c of chunks) held.add(c);
    let mine = this.byUser.get(user);
    if (!mine) this.byUser.set(user, (mine = new Set()));
    mine.add(name);
  }
}

function validChunks(chunks: number[], n: number): boolean {
  return chunks.length >= 1 && chunks.length <= MAX_CHUNKS && chunks.every((c) => Number.isSafeInteger(c) && c >= 1 && c <= n);
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
