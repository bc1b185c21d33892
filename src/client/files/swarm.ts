/**
 * The swarm download behind `download <name>` (SPEC §6): every missing chunk, from
 * every usable holder at once, as the scheduler (scheduler.ts) decides;
 * each chunk is verified as it streams in, marked held and announced to the server
 * as soon as it lands, so others can fetch it from us at once. Failed chunks are
 * retried elsewhere; when nothing is left to try, the holder list is refreshed from
 * the server a few times before giving up. Every loop here is bounded.
 */
import type { Clock } from "../../common/clock.ts";
import type { Logger } from "../../common/logger.ts";
import { ignored } from "../ignored.ts";
import { ChunkClient, type FetchOutcome } from "./fetch.ts";
import { Scheduler, type Assignment, type Outcome } from "./scheduler.ts";
import type { FileInfo } from "./registry.ts";
import type { FileStore, LocalFile } from "./store.ts";

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
  progress(bytesDone: number): void;
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
export async function swarm(deps: SwarmDeps, f: LocalFile, info: FileInfo, opts: SwarmOptions = {}): Promise<SwarmResult> {
  const { store, log } = deps;
  const missing: number[] = [];
  for (let c = 1; c <= f.hashes.length; c++) if (!f.have.has(c)) missing.push(c);
  const sched = new Scheduler(missing, othersOf(info, deps.me), {
    random: Math.random,
    ...(opts.maxPerPeer ? { maxPerPeer: opts.maxPerPeer } : {}),
    ...(opts.maxInFlight ? { maxInFlight: opts.maxInFlight } : {}),
    ...(opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : {}),
  });
  const from = new Set<string>();
  let heldBytes = 0;
  for (const c of f.have) heldBytes += span(store, f, c);
  let flowing = 0;
  const running = new Set<Promise<void>>();

  const run = async (a: Assignment): Promise<void> => {
    const size = span(store, f, a.chunk);
    let got = 0;
    let outcome: FetchOutcome;
    let onDisk = false;
    const cl = await deps.client(a.peer);
    if (typeof cl === "string") {
      log.debug(`download ${f.name}: cannot reach ${a.peer}: ${cl}`);
      outcome = "gone";
    } else {
      const { start } = store.span(f, a.chunk);
      const r = await cl.fetch(f.name, a.chunk, { path: store.partPath(f.name), start, size, hash: f.hashes[a.chunk - 1]! }, (n) => {
        got += n;
        flowing += n;
        deps.progress(heldBytes + flowing);
      });
      outcome = r.outcome;
      onDisk = r.onDisk;
    }
    flowing -= got;
    if (outcome === "ok") {
      try {
        await store.markHeld(f, a.chunk, onDisk);
      } catch (e) {
        log.debug(`download ${f.name}: cannot record chunk ${a.chunk}: ${(e as Error).message}`);
        outcome = "error";
      }
    }
    if (outcome === "ok") {
      heldBytes += size;
      from.add(a.peer);
      deps.announce(f, a.chunk);
      deps.chunkLanded(a.chunk, a.peer);
      if (log.enabled) {
        const m = process.memoryUsage();
        const mib = (n: number) => (n / 1048576).toFixed(1);
        log.debug(`download ${f.name}: chunk ${a.chunk} from ${a.peer} (rss ${mib(m.rss)} MiB, heap ${mib(m.heapUsed)}, buffers ${mib(m.arrayBuffers)})`);
      }
      deps.progress(heldBytes + flowing);
    } else {
      log.debug(`download ${f.name}: chunk ${a.chunk} from ${a.peer}: ${outcome}`);
      deps.chunkFailed(a.chunk, a.peer, outcome);
    }
    sched.report(a, toOutcome(outcome));
  };

  const refreshes = opts.refreshes ?? 3;
  const delay = opts.refreshDelayMs ?? 500;
  let refreshed = 0;
  // Each turn starts or ends at least one transfer, or spends a refresh: bounded.
  const maxTurns = 4 * f.hashes.length * (opts.maxAttempts ?? 6) + 4 * refreshes + 16;
  for (let turn = 0; turn < maxTurns; turn++) {
    for (let a = sched.next(); a; a = sched.next()) {
      const p: Promise<void> = run(a).finally(() => running.delete(p));
      running.add(p);
    }
    if (running.size > 0) {
      await Promise.race(running);
      continue;
    }
    if (sched.complete || !sched.waiting || refreshed >= refreshes) break;
    refreshed++;
    await new Promise<void>((wake) => deps.clock.after(delay * refreshed, wake));
    // The server link is gone (SessionError): give up; the app reports the loss.
    const fresh = await deps.search(f.name).catch(ignored(log, `download ${f.name}: refreshing holders`, null));
    if (!fresh || fresh.size !== f.size || !sameList(fresh.hashes, f.hashes)) break;
    log.debug(`download ${f.name}: stuck, holders refreshed (${refreshed}/${refreshes})`);
    sched.setHolders(othersOf(fresh, deps.me));
  }
  await Promise.allSettled([...running]);
  return { from, missing: sched.missing() };
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

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
