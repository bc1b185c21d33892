/**
 * Which chunk to fetch next, and from which peer (behaviour.md §6 `download`). Pure: no I/O,
 * no time; the download loop feeds it outcomes and asks for assignments.
 *
 * - Rarest first: of the chunks that can be started now, the one with the fewest
 *   usable holders goes first (ties: lowest number, or random when given a source).
 * - Spread: the chunk goes to its usable holder with the fewest transfers in flight,
 *   then the fewest chunks given so far; no peer gets more than `maxPerPeer` at once,
 *   so while other holders have the chunks nothing waits on a single peer.
 * - Retry elsewhere: a failure takes that peer out for that chunk ("not_held",
 *   "busy"), or for everything: a peer that sent bad data ("verify") is never asked
 *   again; a peer whose link failed ("gone") is out until setHolders() lists it anew.
 *   A chunk is abandoned after `maxAttempts` failures.
 */

export type Outcome = "ok" | "not_held" | "busy" | "verify" | "gone";
export type Assignment = { chunk: number; peer: string };

export type SchedulerOptions = {
  /** Transfers in flight from one peer at once. */
  maxPerPeer: number;
  /** Transfers in flight in all. */
  maxInFlight: number;
  /** Failed attempts after which a chunk is given up. */
  maxAttempts: number;
  /** Tie-breaking source in [0, 1); without it ties go to the lowest chunk / first peer name. */
  random?: () => number;
};

export const DEFAULT_SCHEDULER: SchedulerOptions = { maxPerPeer: 3, maxInFlight: 8, maxAttempts: 6 };

export class Scheduler {
  private readonly opts: SchedulerOptions;
  /** Chunks still to fetch and not in flight. */
  private readonly pending = new Set<number>();
  private readonly inFlight = new Map<number, string>();
  private readonly done = new Set<number>();
  private readonly abandoned = new Set<number>();
  private readonly attempts = new Map<number, number>();
  /** peer → chunks it holds, per the registry. */
  private holders = new Map<string, Set<number>>();
  private readonly load = new Map<string, number>();
  private readonly given = new Map<string, number>();
  private readonly liars = new Set<string>();
  private readonly down = new Set<string>();
  /** "chunk:peer" pairs that failed (not held, busy). */
  private readonly refused = new Set<string>();

  constructor(missing: Iterable<number>, holders: Map<string, Set<number>>, opts: Partial<SchedulerOptions> = {}) {
    this.opts = { ...DEFAULT_SCHEDULER, ...opts };
    for (const c of missing) this.pending.add(c);
    this.setHolders(holders);
  }

  /** Replace what the registry says about holders (a fresh search); links that failed get another chance. */
  setHolders(holders: Map<string, Set<number>>): void {
    this.holders = new Map([...holders].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([p, s]) => [p, new Set(s)]));
    this.down.clear();
  }

  /** The next transfer to start, or null if none can start now. Marks it in flight. */
  next(): Assignment | null {
    if (this.inFlight.size >= this.opts.maxInFlight) return null;
    let best: { chunk: number; rarity: number; peers: string[]; tie: number } | null = null;
    for (const c of this.pending) {
      const usable = this.usableHolders(c);
      const free = usable.filter((p) => (this.load.get(p) ?? 0) < this.opts.maxPerPeer);
      if (free.length === 0) continue;
      const tie = this.opts.random ? this.opts.random() : -c;
      if (!best || usable.length < best.rarity || (usable.length === best.rarity && tie > best.tie)) {
        best = { chunk: c, rarity: usable.length, peers: free, tie };
      }
    }
    if (!best) return null;
    const peer = this.pickPeer(best.peers);
    this.pending.delete(best.chunk);
    this.inFlight.set(best.chunk, peer);
    this.load.set(peer, (this.load.get(peer) ?? 0) + 1);
    this.given.set(peer, (this.given.get(peer) ?? 0) + 1);
    return { chunk: best.chunk, peer };
  }

  /** How the transfer `a` (from next()) ended. */
  report(a: Assignment, outcome: Outcome): void {
    if (this.inFlight.get(a.chunk) !== a.peer) throw new Error(`chunk ${a.chunk} is not in flight from ${a.peer}`);
    this.inFlight.delete(a.chunk);
    this.load.set(a.peer, (this.load.get(a.peer) ?? 1) - 1);
    if (outcome === "ok") {
      this.done.add(a.chunk);
      return;
    }
    if (outcome === "verify") this.liars.add(a.peer);
    else if (outcome === "gone") this.down.add(a.peer);
    else this.refused.add(`${a.chunk}:${a.peer}`);
    const n = (this.attempts.get(a.chunk) ?? 0) + 1;
    this.attempts.set(a.chunk, n);
    if (n >= this.opts.maxAttempts) this.abandoned.add(a.chunk);
    else this.pending.add(a.chunk);
  }

  /** Every chunk was fetched. */
  get complete(): boolean {
    return this.pending.size === 0 && this.inFlight.size === 0 && this.abandoned.size === 0;
  }

  /** Nothing in flight and nothing can start: done, abandoned, or waiting for new holders. */
  get idle(): boolean {
    return this.inFlight.size === 0 && !this.canStart();
  }

  /** Chunks wait that are neither in flight nor abandoned (new holders could unblock them). */
  get waiting(): boolean {
    return this.pending.size > 0;
  }

  get running(): number {
    return this.inFlight.size;
  }

  /** Chunks not fetched (pending, in flight or abandoned), ascending. */
  missing(): number[] {
    return [...this.pending, ...this.inFlight.keys(), ...this.abandoned].sort((a, b) => a - b);
  }

  /** Chunks fetched so far. */
  fetched(): number[] {
    return [...this.done].sort((a, b) => a - b);
  }

  /** Peers that failed verification. */
  badPeers(): string[] {
    return [...this.liars].sort();
  }

  /** Usable holders of chunk c: hold it, never lied, link not down, did not refuse it. */
  usableHolders(c: number): string[] {
    const out: string[] = [];
    for (const [p, chunks] of this.holders) {
      if (chunks.has(c) && !this.liars.has(p) && !this.down.has(p) && !this.refused.has(`${c}:${p}`)) out.push(p);
    }
    return out;
  }

  private canStart(): boolean {
    for (const c of this.pending) if (this.usableHolders(c).length > 0) return true;
    return false;
  }

  private pickPeer(peers: string[]): string {
    let best = peers[0]!;
    let bestKey = [Infinity, Infinity, Infinity];
    for (const p of peers) {
      const key = [this.load.get(p) ?? 0, this.given.get(p) ?? 0, this.opts.random ? this.opts.random() : 0];
      if (key[0]! < bestKey[0]! || (key[0] === bestKey[0] && (key[1]! < bestKey[1]! || (key[1] === bestKey[1] && key[2]! < bestKey[2]!)))) {
        best = p;
        bestKey = key;
      }
    }
    return best;
  }
}
