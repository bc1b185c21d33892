/**
 * The cluster bus (src/server/cluster/) between two nodes on one local redis-server,
 * for the figures in docs/scaling.md:
 * - latency A → B: one event at a time, from send()/publish() until B's onEvent;
 * - throughput: N events issued without waiting (windows of 1000 in flight), until B
 *   has received them all;
 * - Redis operations per event, counted by Redis (INFO commandstats).
 *
 *   bun bench/cluster-bus.ts          # ~15 s; each figure is a median of 3 runs
 *
 * Starts its own redis-server (tests/e2e/redis.ts: appendonly yes, appendfsync
 * always, as production) and ends it by PID.
 */
import { cpus, loadavg } from "node:os";
import { ClusterBus, type BusEvent } from "../src/server/cluster/bus.ts";
import { RedisLink } from "../src/server/cluster/link.ts";
import { commandStats, resetCommandStats } from "../src/server/cluster/stats.ts";
import { startRedis, stopAllRedis } from "../tests/e2e/redis.ts";

const RUNS = 3;
const LATENCY_N = 2000;
const THROUGHPUT_N = 20_000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

type Kind = "send" | "publish";

/** B's onEvent resolves the waiter for event number `n`. */
function receiver(b: ClusterBus, kind: Kind) {
  const stream = kind === "send" ? "inbox" : "events";
  let waiting: { upTo: number; resolve: () => void } | null = null;
  let count = 0;
  b.onEvent((e, meta) => {
    if (meta.stream !== stream || e.kind !== kind) return;
    count++;
    if (waiting && count >= waiting.upTo) {
      const w = waiting;
      waiting = null;
      w.resolve();
    }
  });
  return {
    reset: () => void (count = 0),
    until: (upTo: number) => (count >= upTo ? Promise.resolve() : new Promise<void>((resolve) => (waiting = { upTo, resolve }))),
  };
}

async function emit(a: ClusterBus, b: ClusterBus, kind: Kind, e: BusEvent): Promise<void> {
  if (kind === "send") await a.send(b.nodeId, e);
  else await a.publish(e);
}

async function latency(a: ClusterBus, b: ClusterBus, kind: Kind) {
  const r = receiver(b, kind);
  const lat: number[] = [];
  for (let i = 0; i < LATENCY_N; i++) {
    const t = performance.now();
    const got = r.until(i + 1);
    await emit(a, b, kind, { kind, i });
    await got;
    lat.push((performance.now() - t) * 1000);
  }
  lat.sort((x, y) => x - y);
  return { p50: lat[LATENCY_N >> 1]!, p99: lat[Math.floor(LATENCY_N * 0.99)]! };
}

async function throughput(a: ClusterBus, b: ClusterBus, kind: Kind): Promise<number> {
  const r = receiver(b, kind);
  const t0 = performance.now();
  const all = r.until(THROUGHPUT_N);
  for (let i = 0; i < THROUGHPUT_N; i += 1000) {
    const batch: Promise<void>[] = [];
    for (let j = i; j < i + 1000; j++) batch.push(emit(a, b, kind, { kind, i: j, text: "x".repeat(60) }));
    await Promise.all(batch);
  }
  await all;
  return THROUGHPUT_N / ((performance.now() - t0) / 1000);
}

async function opsPerEvent(la: RedisLink, a: ClusterBus, b: ClusterBus, kind: Kind): Promise<string> {
  await resetCommandStats(la);
  const r = receiver(b, kind);
  const done = r.until(1000);
  await Promise.all(Array.from({ length: 1000 }, (_, i) => emit(a, b, kind, { kind, i })));
  await done;
  const stats = await commandStats(la);
  const parts = [...stats]
    .filter(([cmd]) => cmd !== "config|resetstat" && cmd !== "info")
    .map(([cmd, s]) => `${cmd} ${(s.calls / 1000).toFixed(2)}`);
  return parts.join(", ");
}

if (import.meta.main) {
  console.log(`machine: ${cpus().length} cores, load average before ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  const rows: Record<string, number[]> = {};
  const add = (k: string, v: number) => (rows[k] ??= []).push(v);
  let ops = "";
  for (let run = 0; run < RUNS; run++) {
    const redis = await startRedis();
    const [la, lb] = [await RedisLink.open(redis.url), await RedisLink.open(redis.url)];
    const [a, b] = [await ClusterBus.start(la), await ClusterBus.start(lb)];
    for (const kind of ["send", "publish"] as const) {
      const l = await latency(a, b, kind);
      add(`${kind} A→B latency p50 (µs)`, l.p50);
      add(`${kind} A→B latency p99 (µs)`, l.p99);
      add(`${kind} pipelined, received by B (events/s)`, await throughput(a, b, kind));
      if (run === 0) ops += `  ${kind}: Redis ops per event: ${await opsPerEvent(la, a, b, kind)}\n`;
    }
    await a.stop();
    await b.stop();
    la.close();
    lb.close();
    await stopAllRedis();
  }
  for (const [what, values] of Object.entries(rows)) {
    console.log(`${what.padEnd(44)} ${Math.round(median(values)).toString().padStart(8)}   (runs: ${values.map((v) => Math.round(v)).join(", ")})`);
  }
  process.stdout.write(ops);
  console.log(`load average after ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
}
