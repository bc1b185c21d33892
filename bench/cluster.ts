/**
 * A cluster on Redis against one server on Redis (docs/scaling.md, "Measured: the
 * cluster"): 100 sender/receiver pairs, 32 messages in flight per pair. Three runs of
 * the loadgen's `direct` job:
 *
 *   one node     — one ./server --redis, both sides of every pair on it;
 *   cross-node   — two ./server --redis on one Redis, senders on A, receivers on B;
 *   (and for scale, one ./server with its memory store: the bench's usual `direct`.)
 *
 * Then a login storm: STORM users logging in (50 at a time from each of two load
 * workers), through the one server, or half through each of two servers.
 *
 * Redis operations per message and per login come from INFO commandstats (zeroed
 * before each step; it counts the commands a script runs inside it too). Every
 * process is ended by PID.
 *
 *   bun bench/cluster.ts [--seconds 5]
 */
import { writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { RedisLink } from "../src/server/cluster/link.ts";
import { commandStats, resetCommandStats, type CommandStat } from "../src/server/cluster/stats.ts";
import { startRedis, stopAllRedis } from "../tests/e2e/redis.ts";
import type { Cred, DirectResult, HoldReady, Job, StormResult } from "./loadgen.ts";
import { freePort, killAll, spawnTracked, stopProcess, waitForPort } from "./lib/proc.ts";
import { Worker } from "./lib/worker.ts";

const ROOT = join(import.meta.dir, "..");
const PAIRS = 100;
const WINDOW = 32;
const at = process.argv.indexOf("--seconds");
const seconds = at > 0 ? Number(process.argv[at + 1]) : 5;
const dir = mkdtempSync(join(tmpdir(), "bench-cluster-"));
const STORM = 1000;
const creds: Cred[] = Array.from({ length: 2 * PAIRS + 100 + STORM }, (_, i) => [`u${i}`, `p${i}`]);
const credFile = join(dir, "credentials.txt");
writeFileSync(credFile, creds.map(([u, p]) => `${u} ${p}`).join("\n") + "\n");
const pairs: [Cred, Cred][] = Array.from({ length: PAIRS }, (_, i) => [creds[2 * i]!, creds[2 * i + 1]!]);

async function server(extra: string[]): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const port = freePort();
  const proc = spawnTracked(
    [join(ROOT, "server"), String(port), "60", "3600", "--host", "127.0.0.1", "--credentials", credFile, "--no-tls", ...extra],
    { cwd: dir },
  );
  await waitForPort(port, 10_000, () => proc.exitCode === null);
  return { port, pid: proc.pid, stop: () => stopProcess(proc) };
}

async function direct(w: Worker, port: number, receiverPort: number, pid: number): Promise<DirectResult> {
  const job: Job = {
    t: "direct", adapter: "chat", tls: false, port, receiverPort, serverPid: pid, pairs, window: WINDOW,
    warmupMs: 1000, durationMs: seconds * 1000, drainMs: 10_000, textBytes: 100, concurrency: 50,
  };
  return w.run<DirectResult>(job, seconds * 1000 + 90_000);
}

/** STORM logins, half through each port, from two workers at once → logins/s over the slower half. */
async function storm(ports: [number, number], pid: number): Promise<{ perSecond: number; p99: number; logins: number }> {
  const users = creds.slice(2 * PAIRS + 100);
  const halves = [users.slice(0, STORM / 2), users.slice(STORM / 2)];
  const ws = [new Worker(), new Worker()];
  try {
    const rs = await Promise.all(
      ws.map((w, i) => w.run<StormResult>({ t: "storm", adapter: "chat", tls: false, port: ports[i]!, serverPid: pid, users: halves[i]!, concurrency: 50 } satisfies Job, 120_000)),
    );
    const logins = rs.reduce((n, r) => n + r.logins, 0);
    const ms = Math.max(...rs.map((r) => (r.logins / r.perSecond) * 1000));
    return { perSecond: (logins / ms) * 1000, p99: Math.max(...rs.map((r) => r.p99)), logins };
  } finally {
    await Promise.all(ws.map((w) => w.stop()));
  }
}

const total = (m: Map<string, CommandStat>) => [...m.values()].reduce((n, c) => n + c.calls, 0);
const top = (m: Map<string, CommandStat>, per: number) =>
  [...m].sort((a, b) => b[1].calls - a[1].calls).slice(0, 6).map(([k, c]) => `${k} ${(c.calls / per).toFixed(2)}`).join(", ");

async function main(): Promise<void> {
  const rows: string[] = [];
  const storms: string[] = [];
  const w = new Worker();
  try {
    const mem = await server(["--store", ":memory:"]);
    const base = await direct(w, mem.port, mem.port, mem.pid);
    await mem.stop();
    rows.push(`| one node, memory store | ${(base.perSecond / 1000).toFixed(1)}k | ${base.p50.toFixed(1)} | ${base.p99.toFixed(1)} | ${base.lost} | — |`);

    for (const nodes of [1, 2]) {
      const redis = await startRedis();
      const link = await RedisLink.open(redis.url);
      const a = await server(["--redis", redis.url]);
      const b = nodes === 2 ? await server(["--redis", redis.url]) : a;
      // Logins: what one costs in Redis operations (100 users held, then dropped).
      await resetCommandStats(link);
      const held = creds.slice(2 * PAIRS, 2 * PAIRS + 100);
      const hw = new Worker();
      const hold = await hw.run<HoldReady>({ t: "hold", adapter: "chat", tls: false, port: a.port, users: held, concurrency: 50 } satisfies Job, 60_000);
      const perLogin = await commandStats(link);
      await hw.stop(); // they log out
      await resetCommandStats(link);
      const r = await direct(w, a.port, b.port, a.pid);
      const perMsg = await commandStats(link);
      const name = nodes === 1 ? "one node on Redis" : "cross-node (2 nodes, 1 Redis)";
      rows.push(`| ${name} | ${(r.perSecond / 1000).toFixed(1)}k | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.lost} | ${(total(perMsg) / r.delivered).toFixed(2)} / msg (${top(perMsg, r.delivered)}); ${(total(perLogin) / hold.held).toFixed(1)} / login (${top(perLogin, hold.held)}) |`);
      await resetCommandStats(link);
      const st = await storm([a.port, b.port], a.pid);
      const perStorm = await commandStats(link);
      storms.push(`| ${nodes === 1 ? "one node on Redis" : "two nodes, half through each"} | ${st.perSecond.toFixed(0)} | ${st.p99.toFixed(1)} | ${(total(perStorm) / st.logins).toFixed(1)} |`);
      link.close();
      if (b !== a) await b.stop();
      await a.stop();
      await stopAllRedis();
    }
  } finally {
    await w.stop();
    killAll();
    await stopAllRedis();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`${PAIRS} pairs, ${WINDOW} in flight each, ${seconds} s; ${cpus().length} cores, load ${loadavg()[0]!.toFixed(1)}`);
  console.log("| setup | msgs/s | p50 ms | p99 ms | lost | Redis operations |");
  console.log("|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
  console.log(`\nLogin storm, ${STORM} users:`);
  console.log("| setup | logins/s | p99 ms | Redis commands / login |");
  console.log("|---|---|---|---|");
  for (const r of storms) console.log(r);
}

await main();
