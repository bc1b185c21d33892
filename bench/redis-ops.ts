/**
 * What Bun's built-in RedisClient gets from a local redis-server, for the capacity
 * model in docs/scaling.md: round trips, pipelined throughput of the commands the
 * cluster will use, pub/sub fan-in, and the cost of `appendfsync always`.
 *
 *   bun bench/redis-ops.ts            # ~20 s; every figure is a median of 3 runs
 *
 * Starts its own redis-server (tests/e2e/redis.ts) on 127.0.0.1 with the settings
 * production should use (appendonly yes, appendfsync always), ends it by PID.
 * Commands are counted by Redis itself (INFO commandstats) to check that what we
 * think we sent is what Redis ran.
 */
import { RedisClient } from "bun";
import { cpus, loadavg } from "node:os";
import { keys } from "../src/server/redis/keys.ts";
import { CLAIM_SESSION, MAILBOX_APPEND, runScript } from "../src/server/redis/scripts.ts";
import { startRedis, stopAllRedis } from "../tests/e2e/redis.ts";

const RUNS = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** `INFO commandstats` → command → calls. */
export async function commandCalls(c: RedisClient): Promise<Map<string, number>> {
  const text: string = await c.send("INFO", ["commandstats"]);
  const out = new Map<string, number>();
  for (const line of text.split("\r\n")) {
    const m = /^cmdstat_([^:]+):calls=(\d+),/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** Sequential round trips: one command, await, the next. */
async function roundTrips(c: RedisClient, n: number): Promise<{ opsPerSec: number; p50: number; p99: number }> {
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await c.get("rt");
    lat.push(performance.now() - t);
  }
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { opsPerSec: n / secs, p50: lat[n >> 1]!, p99: lat[Math.floor(n * 0.99)]! };
}

/** `n` commands issued without waiting, in windows of `window` outstanding; ops/s. */
async function pipelined(n: number, window: number, issue: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i += window) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(n, i + window); j++) batch.push(issue(j));
    await Promise.all(batch);
  }
  return n / ((performance.now() - t0) / 1000);
}

async function pubsubRate(url: string, n: number): Promise<number> {
  const pub = new RedisClient(url);
  const sub = new RedisClient(url);
  let got = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  await sub.subscribe("bench", () => {
    if (++got === n) done();
  });
  const t0 = performance.now();
  for (let i = 0; i < n; i += 1000) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) batch.push(pub.publish("bench", "m" + j));
    await Promise.all(batch);
  }
  await all;
  const rate = n / ((performance.now() - t0) / 1000);
  pub.close();
  sub.close();
  return rate;
}


/** Latency from issuing a write on one connection to another connection seeing it: XADD → XREAD BLOCK, PUBLISH → subscriber. */
async function wakeLatency(url: string, n: number): Promise<{ xread: number; publish: number }> {
  const w = new RedisClient(url);
  const reader = new RedisClient(url);
  const sub = new RedisClient(url);
  const stream = keys.nodeInbox("lat");
  // Read after an id we know (not "$"): an XADD that reaches Redis before the XREAD is still seen.
  let last = (await w.send("XADD", [stream, "*", "m", "first"])) as string;
  const xr: number[] = [];
  for (let i = 0; i < n; i++) {
    const read = reader.send("XREAD", ["BLOCK", "1000", "STREAMS", stream, last]);
    const t = performance.now();
    await w.send("XADD", [stream, "*", "m", "x"]);
    const got = (await read) as Record<string, [string, string[]][]>;
    xr.push(performance.now() - t);
    last = got[stream]!.at(-1)![0];
  }
  const pb: number[] = [];
  let wake: () => void = () => {};
  await sub.subscribe("lat", () => wake());
  for (let i = 0; i < n; i++) {
    const seen = new Promise<void>((r) => (wake = r));
    const t = performance.now();
    await w.publish("lat", "x");
    await seen;
    pb.push(performance.now() - t);
  }
  w.close();
  reader.close();
  sub.close();
  return { xread: median(xr), publish: median(pb) };
}

type Row = { what: string; value: number; unit: string };

async function oneRun(): Promise<Row[]> {
  const r = await startRedis();
  const c = new RedisClient(r.url);
  await c.connect();
  const rows: Row[] = [];
  const add = (what: string, value: number, unit: string) => rows.push({ what, value, unit });
  try {
    await c.set("rt", "x");
    const rt = await roundTrips(c, 5000);
    add("GET round trip, sequential", rt.opsPerSec, "ops/s");
    add("GET round trip p50", rt.p50 * 1000, "µs");
    add("GET round trip p99", rt.p99 * 1000, "µs");
    const before = (await commandCalls(c)).get("get") ?? 0;
    add("GET pipelined (window 1000)", await pipelined(50_000, 1000, () => c.get("rt")), "ops/s");
    const after = (await commandCalls(c)).get("get") ?? 0;
    if (after - before !== 50_000) throw new Error(`commandstats counted ${after - before} GETs, sent 50000`);
    const text = "x".repeat(100);
    add("SET 100 B pipelined, appendfsync always", await pipelined(50_000, 1000, (i) => c.set("s" + i, text)), "ops/s");
    add("SET 100 B sequential, appendfsync always", await pipelined(3000, 1, (i) => c.set("q" + i, text)), "ops/s");
    add(
      "EVALSHA claim-session pipelined",
      await pipelined(20_000, 1000, (i) => runScript(c, CLAIM_SESSION, [keys.session(`u${i}`)], ["node-a|1|1", "", "0"])),
      "ops/s",
    );
    add(
      "EVALSHA mailbox-append pipelined (100 B)",
      await pipelined(20_000, 1000, (i) =>
        runScript(c, MAILBOX_APPEND, [keys.mailbox(`u${i % 1000}`), keys.mailboxSeq(`u${i % 1000}`)], [`{"from":"a","text":"${text}","at":1}`, "10000"]),
      ),
      "ops/s",
    );
    add(
      "XADD 100 B pipelined",
      await pipelined(20_000, 1000, (i) => c.send("XADD", [keys.nodeInbox(`n${i % 4}`), "MAXLEN", "~", "100000", "*", "m", text])),
      "ops/s",
    );
    add("PUBLISH → 1 subscriber, pipelined", await pubsubRate(r.url, 50_000), "msg/s");
    const lat = await wakeLatency(r.url, 1000);
    add("XADD → XREAD BLOCK reader sees it, p50", lat.xread * 1000, "µs");
    add("PUBLISH → subscriber sees it, p50", lat.publish * 1000, "µs");
    await c.send("CONFIG", ["SET", "appendfsync", "everysec"]);
    add("SET 100 B pipelined, appendfsync everysec", await pipelined(50_000, 1000, (i) => c.set("e" + i, text)), "ops/s");
    add("SET 100 B sequential, appendfsync everysec", await pipelined(3000, 1, (i) => c.set("f" + i, text)), "ops/s");
  } finally {
    c.close();
    await stopAllRedis();
  }
  return rows;
}

if (import.meta.main) {
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model}), load average before ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  const runs: Row[][] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await oneRun());
  for (let k = 0; k < runs[0]!.length; k++) {
    const { what, unit } = runs[0]![k]!;
    const values = runs.map((rows) => rows[k]!.value);
    console.log(`${what.padEnd(44)} ${Math.round(median(values)).toString().padStart(9)} ${unit}   (runs: ${values.map((v) => Math.round(v)).join(", ")})`);
  }
  console.log(`load average after ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
}
