/**
 * The swarm download behind `download <name>` (behaviour.md §6): every missing chunk, from
 * every usable holder at once, as the scheduler (scheduler.ts) decides;
 * each chunk is verified as it streams in, marked held and announced to the server
 * as soon as it lands, so others can fetch it from us at once. Failed chunks are
 * retried elsewhere; when nothing is left to try, the holder list is refreshed from
 * the server a few times before giving up. Every loop here is bounded.
 */
import type { Clock } from "../../common/clock.ts";
import type { Logger } from "../../common/logger.ts";
import { ignored } from "../ignored.ts";
import type { ChunkClient, FetchOutcome } from "./fetch.ts";
import { Scheduler, type Assignment, type Outcome } from "./scheduler.ts";
import type { FileInfo } from "./registry.ts";
import { sameList, type FileStore, type LocalFile } from "./store.ts";

export interface SwarmDeps {
  me: string;
  store: FileStore;
  log: Logger;
  /** Waits between holder refreshes. */
  clock: Clock;
  /** A fresh registry answer for the file, or null if it is gone. */
  search(name: string): Promise<FileInfo | null>;
  /** The requester side of a link to `user`, opening one if needed, or an error text. */
  client(user: string): Promise<ChunkClient | string>;
  /** Chunk c of f is held now: tell the server. */
  announce(f: LocalFile, c: number): void;
  /** Events for the screen. */
  chunkLanded(c: number, from: string): void;
  chunkFailed(c: number, from: string, outcome: FetchOutcome): void;
  /** Bytes held or streaming in, and how many peers are sending now. */
  progress(bytesDone: number, peersSending: number): void;
}

export type SwarmOptions = {
  maxPerPeer?: number;
  maxInFlight?: number;
  maxAttempts?: number;
  /** Holder refreshes allowed when the download is stuck. */
  refreshes?: number;
  /** Wait before the k-th refresh: k × this. */
  refreshDelayMs?: number;
};

export type SwarmResult = { from: Set<string>; missing: number[] };

/** Holders other than `me`. */
export function othersOf(info: FileInfo, me: string): Map<string, Set<number>> {
  return new Map([...info.holders].filter(([u]) => u !== me));
}

/** Fetch every chunk of f not yet held. Resolves when all landed or nothing more can be done. */
export function swarm(deps: SwarmDeps, f: LocalFile, info: FileInfo, opts: SwarmOptions = {}): Promise<SwarmResult> {
  return new Swarm(deps, f, info, opts).run();
}

/** One swarm download's state: the scheduler, the transfers running, the bytes so far. */
class Swarm {
  private readonly sched: Scheduler;
  private readonly from = new Set<string>();
  private readonly running = new Set<Promise<void>>();
  /** Transfers running per peer (for the progress line's peer count). */
  private readonly sending = new Map<string, number>();
  private heldBytes = 0;
  /** Bytes of chunks still streaming in (not yet verified). */
  private flowing = 0;

  constructor(
    private readonly deps: SwarmDeps,
    private readonly f: LocalFile,
    info: FileInfo,
    private readonly opts: SwarmOptions,
  ) {
    const missing: number[] = [];
    for (let c = 1; c <= f.hashes.length; c++) if (!f.have.has(c)) missing.push(c);
    this.sched = new Scheduler(missing, othersOf(info, deps.me), {
      random: Math.random,
      ...(opts.maxPerPeer ? { maxPerPeer: opts.maxPerPeer } : {}),
      ...(opts.maxInFlight ? { maxInFlight: opts.maxInFlight } : {}),
      ...(opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : {}),
    });
    for (const c of f.have) this.heldBytes += span(deps.store, f, c);
  }

  async run(): Promise<SwarmResult> {
    const { sched, running, opts } = this;
    const refreshes = opts.refreshes ?? 3;
    let refreshed = 0;
    // Each turn starts or ends at least one transfer, or spends a refresh: bounded.
    const maxTurns = 4 * this.f.hashes.length * (opts.maxAttempts ?? 6) + 4 * refreshes + 16;
    for (let turn = 0; turn < maxTurns; turn++) {
      for (let a = sched.next(); a; a = sched.next()) {
        const p: Promise<void> = this.fetch(a).finally(() => running.delete(p));
        running.add(p);
      }
      if (running.size > 0) {
        await Promise.race(running);
        continue;
      }
      if (sched.complete || !sched.waiting || refreshed >= refreshes) break;
      refreshed++;
      if (!(await this.refresh(refreshed, refreshes))) break;
    }
    await Promise.allSettled([...running]);
    return { from: this.from, missing: sched.missing() };
  }

  /** Stuck: wait, then ask the server for the holders again. False: the file is gone or changed. */
  private async refresh(k: number, of: number): Promise<boolean> {
    const { deps, f } = this;
    await new Promise<void>((wake) => deps.clock.after((this.opts.refreshDelayMs ?? 500) * k, wake));
    // The server link is gone (SessionError): give up; the app reports the loss.
    const fresh = await deps.search(f.name).catch(ignored(deps.log, `download ${f.name}: refreshing holders`, null));
    if (!fresh || fresh.size !== f.size || !sameList(fresh.hashes, f.hashes)) return false;
    deps.log.debug(`download ${f.name}: stuck, holders refreshed (${k}/${of})`);
    this.sched.setHolders(othersOf(fresh, deps.me));
    return true;
  }

  /** One assignment: fetch the chunk from the peer, record it, report to the scheduler. */
  private async fetch(a: Assignment): Promise<void> {
    const { deps, f } = this;
    this.sending.set(a.peer, (this.sending.get(a.peer) ?? 0) + 1);
    let got = 0;
    let outcome: FetchOutcome = "gone";
    let onDisk = false;
    const cl = await deps.client(a.peer);
    if (typeof cl === "string") deps.log.debug(`download ${f.name}: cannot reach ${a.peer}: ${cl}`);
    else {
      const { start, end } = deps.store.span(f, a.chunk);
      const target = { path: deps.store.partPath(f.name), start, size: end - start, hash: f.hashes[a.chunk - 1]! };
      ({ outcome, onDisk } = await cl.fetch(f.name, a.chunk, target, (n) => {
        got += n;
        this.flowing += n;
        this.progress();
      }));
    }
    this.flowing -= got;
    this.sending.set(a.peer, this.sending.get(a.peer)! - 1);
    if (outcome === "ok") outcome = await this.landed(a, onDisk);
    else {
      deps.log.debug(`download ${f.name}: chunk ${a.chunk} from ${a.peer}: ${outcome}`);
      deps.chunkFailed(a.chunk, a.peer, outcome);
    }
    this.sched.report(a, toOutcome(outcome));
  }

  /** A verified chunk: mark it held, announce it, show it. */
  private async landed(a: Assignment, onDisk: boolean): Promise<FetchOutcome> {
    const { deps, f } = this;
    try {
      await deps.store.markHeld(f, a.chunk, onDisk);
    } catch (e) {
      deps.log.debug(`download ${f.name}: cannot record chunk ${a.chunk}: ${(e as Error).message}`);
      deps.chunkFailed(a.chunk, a.peer, "error");
      return "error";
    }
    this.heldBytes += span(deps.store, f, a.chunk);
    this.from.add(a.peer);
    deps.announce(f, a.chunk);
    deps.chunkLanded(a.chunk, a.peer);
    if (deps.log.enabled) {
      const m = process.memoryUsage();
      const mib = (n: number) => (n / 1048576).toFixed(1);
      deps.log.debug(`download ${f.name}: chunk ${a.chunk} from ${a.peer} (rss ${mib(m.rss)} MiB, heap ${mib(m.heapUsed)}, buffers ${mib(m.arrayBuffers)})`);
    }
    this.progress();
    return "ok";
  }

  private progress(): void {
    let peers = 0;
    for (const n of this.sending.values()) if (n > 0) peers++;
    this.deps.progress(this.heldBytes + this.flowing, peers);
  }
}

function toOutcome(o: FetchOutcome): Outcome {
  switch (o) {
    case "ok":
      return "ok";
    case "not_held":
    case "bad_name":
      return "not_held";
    case "busy":
      return "busy";
    case "verify":
      return "verify";
    case "gone":
    case "stalled":
    case "error":
      return "gone";
  }
}

function span(store: FileStore, f: LocalFile, c: number): number {
  const r = store.span(f, c);
  return r.end - r.start;
}
