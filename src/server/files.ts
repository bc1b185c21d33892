/**
 * The file registry (behaviour.md §6 "File sharing"): per file its name, size, chunk count
 * and the SHA-256 of every chunk; per chunk which users hold it.
 *
 * Only online users count as holders: the hub calls dropUser() when a session ends,
 * and a file whose last holder went offline is forgotten (its metadata included), so
 * memory follows what online users share. Clients announce again what their files
 * folder holds when they log in (docs/file-sharing.md). Pure: no I/O, no time.
 */
import { badFileName, HASH_RE, MAX_CHUNKS, validShape } from "../protocol/files.ts";

/**
 * What the registry may hold, in bytes of server memory as costed below (an
 * estimate of what the engine spends, on the high side). Caps in bytes, not files:
 * a file of 256 chunks held whole costs ~37 KiB, one of 10 chunks ~2.3 KiB
 * (measured on the heap: ~31 KiB and ~2.1 KiB).
 */
export type RegistryLimits = {
  /** All files and holdings together. */
  maxBytes: number;
  /**
   * What one user may make the registry hold: every file they hold something of,
   * counted whole (alone, they keep it alive), plus their holdings. Well under
   * maxBytes, so no one user fills the registry for everyone.
   */
  maxBytesPerUser: number;
};

export const DEFAULT_REGISTRY_LIMITS: RegistryLimits = { maxBytes: 256 * 1024 * 1024, maxBytesPerUser: 4 * 1024 * 1024 };

/** The cost model (bytes): a file's entry and name, each hash, one holder's entry, each chunk it holds. */
export const COST = { file: 600, hash: 120, holder: 300, chunk: 24 } as const;

/** What registering file `name` of `chunks` chunks costs, holdings aside. */
export function fileCost(name: string, chunks: number): number {
  return COST.file + 2 * name.length + chunks * COST.hash;
}

export type RegisterOutcome =
  | { code: "new" }
  | { code: "same" }
  | { code: "conflict"; size: number; hashes: string[] }
  | { code: "full"; why: string }
  | { code: "bad"; why: string };

export type HaveOutcome = "ok" | "not_found" | "bad" | "full";

/** What a search shows one asker: holders as names plus one '0'/'1' map per holder. */
export type SearchAnswer = { size: number; hashes: string[]; users: string[]; maps: string[] };

type Entry = {
  size: number;
  /** fileCost() of this entry. */
  cost: number;
  hashes: string[];
  /** user → the chunks (1-based) they hold. */
  holders: Map<string, Set<number>>;
};

/** The memory FileIndex (state.ts). */
export class FileRegistry {
  private readonly files = new Map<string, Entry>();
  /** user → names of the files they hold something of (for dropUser). */
  private readonly byUser = new Map<string, Set<string>>();
  /** user → bytes charged to them (see RegistryLimits.maxBytesPerUser). */
  private readonly charged = new Map<string, number>();
  private total = 0;

  constructor(private readonly limits: RegistryLimits = DEFAULT_REGISTRY_LIMITS) {}

  get fileCount(): number {
    return this.files.size;
  }
  /** Bytes held in all, as costed (RegistryLimits). */
  get bytes(): number {
    return this.total;
  }
  /** Bytes charged to `user`. */
  bytesOf(user: string): number {
    return this.charged.get(user) ?? 0;
  }

  /**
   * `user` says they hold file `name` of `size` bytes with these chunk hashes: the
   * chunks in `have`, or all of them when `have` is absent.
   */
  register(user: string, name: string, size: number, hashes: string[], have?: number[]): RegisterOutcome {
    const checked = checkRegistration(name, size, hashes, have);
    if ("why" in checked) return { code: "bad", why: checked.why };
    const { chunks } = checked;

    const known = this.files.get(name);
    if (known) {
      if (known.size !== size || !sameList(known.hashes, hashes)) {
        return { code: "conflict", size: known.size, hashes: known.hashes };
      }
      return this.add(known, user, name, chunks) ? { code: "same" } : { code: "full", why: this.fullWhy(user) };
    }
    const entry: Entry = { size, cost: fileCost(name, hashes.length), hashes: [...hashes], holders: new Map() };
    this.files.set(name, entry);
    this.total += entry.cost;
    if (!this.add(entry, user, name, chunks)) {
      this.files.delete(name);
      this.total -= entry.cost;
      return { code: "full", why: this.fullWhy(user) };
    }
    return { code: "new" };
  }

  /** `user` now also holds these chunks of a registered file (a verified download). */
  have(user: string, name: string, chunks: number[]): HaveOutcome {
    const entry = this.files.get(name);
    if (!entry) return "not_found";
    if (!validChunks(chunks, entry.hashes.length)) return "bad";
    return this.add(entry, user, name, chunks) ? "ok" : "full";
  }

  /** `user` went offline: they hold nothing any more; files nobody holds are forgotten. */
  dropUser(user: string): void {
    const names = this.byUser.get(user);
    if (!names) return;
    this.byUser.delete(user);
    this.charged.delete(user);
    for (const name of names) {
      const entry = this.files.get(name);
      if (!entry) continue;
      const held = entry.holders.get(user);
      if (held) this.total -= COST.holder + held.size * COST.chunk;
      entry.holders.delete(user);
      if (entry.holders.size === 0) {
        this.files.delete(name);
        this.total -= entry.cost;
      }
    }
  }

  /**
   * File `name` as `visible` lets the asker see it: holders the predicate hides are
   * left out. Holders holding the most chunks come first. Every visible holder is
   * listed: an answer too long for one frame is sent in parts (protocol/listing.ts).
   * Undefined if the file is not registered.
   */
  search(name: string, visible: (user: string) => boolean = () => true): SearchAnswer | undefined {
    const entry = this.files.get(name);
    if (!entry) return undefined;
    const n = entry.hashes.length;
    const holders = [...entry.holders]
      .filter(([u]) => visible(u))
      .sort((a, b) => b[1].size - a[1].size || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const users: string[] = [];
    const maps: string[] = [];
    for (const [u, held] of holders) {
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

  /** Which cap a refusal met, for the debug log. */
  private fullWhy(user: string): string {
    const { maxBytes, maxBytesPerUser } = this.limits;
    return `registry full (user at ${this.bytesOf(user)} of ${maxBytesPerUser} bytes, all at ${this.total} of ${maxBytes})`;
  }

  /**
   * `user` holds `chunks` of `entry` too, if that keeps them and the registry within
   * their byte caps: false (nothing changed) if not. A user already charged for a
   * file pays only for the chunks it adds; a new holder pays for the file whole.
   */
  private add(entry: Entry, user: string, name: string, chunks: number[]): boolean {
    const held = entry.holders.get(user);
    let added = 0;
    for (const c of new Set(chunks)) if (!held?.has(c)) added++;
    const globalCost = (held ? 0 : COST.holder) + added * COST.chunk;
    const userCost = globalCost + (held ? 0 : entry.cost);
    if (this.total + globalCost > this.limits.maxBytes) return false;
    if (this.bytesOf(user) + userCost > this.limits.maxBytesPerUser) return false;
    const set = held ?? new Set<number>();
    if (!held) entry.holders.set(user, set);
    for (const c of chunks) set.add(c);
    let mine = this.byUser.get(user);
    if (!mine) this.byUser.set(user, (mine = new Set()));
    mine.add(name);
    this.total += globalCost;
    this.charged.set(user, this.bytesOf(user) + userCost);
    return true;
  }
}

/** A registration's arguments checked (any registry): why they are refused, or the chunks it holds. */
export function checkRegistration(name: string, size: number, hashes: string[], have?: number[]): { why: string } | { chunks: number[] } {
  const badName = badFileName(name);
  if (badName) return { why: badName };
  if (!validShape(size, hashes.length)) return { why: "size and chunk count do not fit" };
  if (!hashes.every((h) => HASH_RE.test(h))) return { why: "a hash is not 64 lower-case hex digits" };
  const chunks = have ?? hashes.map((_, i) => i + 1);
  if (!validChunks(chunks, hashes.length)) return { why: "chunk numbers out of range" };
  return { chunks };
}

export function validChunks(chunks: number[], n: number): boolean {
  return chunks.length >= 1 && chunks.length <= MAX_CHUNKS && chunks.every((c) => Number.isSafeInteger(c) && c >= 1 && c <= n);
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
