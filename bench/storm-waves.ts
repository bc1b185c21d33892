/**
 * Login storms in waves against one server process, to see where a login's CPU
 * goes without the process's start-up in the way.
 *
 *   bun bench/storm-waves.ts [--target server|null-relay] [--waves 5] [--logins 1000]
 *                            [--concurrency 50] [--tls] [--profile dir]
 *                            [--bin ./server] [--attach port:pid] [--hold-ms 1500]
 *                            [--jit-report] [--jsc name=value ...]
 *
 * One server (plain TCP unless --tls, memory store) is started, then each wave logs
 * `logins` users in, `concurrency` at a time, exactly as the bench's storm scenario
 * does (they stay logged in until the wave ends), and then closes them all and waits
 * until the server is idle again. Printed per wave: logins/s and the server's CPU per
 * login over the wave (the bench's instrument, lib/proc.ts). Wave 1 is the bench's
 * case (a fresh process); the later ones show a warm one.
 *
 * --profile dir runs the server from source under `bun --cpu-prof` (sampling every
 * 250 µs) and, once it has exited, prints the self and the inclusive time by
 * function (lib/profile.ts) of the samples taken inside the waves only (the
 * profile's busy stretches after the first idle gap: start-up, i.e. hashing the
 * credentials and building the certificate, is left out), with the wave-1 share
 * apart. Without --hold-ms a wave's stretch includes its close (every logout and
 * its notices); with --hold-ms 600 or more the close is a stretch of its own, left out.
 *
 * --bin: another server binary; --attach: use a server already running (not stopped);
 * --hold-ms: keep each wave's clients logged in that long before closing them, and
 * print what the server spent meanwhile (the last presence window's notices, the
 * JIT finishing what the wave made hot).
 *
 * --jit-report: the server reports every function the JavaScript engine compiles
 * (BUN_JSC_reportCompileTimes); printed per wave: how many, by tier, and the
 * compile times they report. Lines are counted as they arrive through the pipe, so
 * a few at a wave's edge may land in the next count. --jsc name=value: run the
 * server with the engine option BUN_JSC_name=value (a diagnostic, e.g.
 * useDFGJIT=false to see a wave without the optimizing compiler's work). Neither
 * reaches a server given with --attach (it was started without them).
 *
 * Every process started is ended by its PID; every wave is bounded in time.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBenchPrograms } from "./lib/build.ts";
import { killAll, markCpu, threadCpuNs } from "./lib/proc.ts";
import { busySegments, idleNodes, tableLines, tally, type Profile } from "./lib/profile.ts";
import { chatServer, nullRelay, type Running } from "./lib/targets.ts";
import type { BenchConn } from "./lib/adapter.ts";

const WAVE_MS = 60_000;
/** Idle pause between waves: long enough to split the profile's timeline (see busySegments). */
const PAUSE_MS = 600;
/** The profiler's sampling interval (lib/targets.ts runs `bun --cpu-prof-interval=250`). */
const SAMPLE_MS = 0.25;

/** Every value of a repeatable option. */
function args(name: string): string[] {
  return process.argv.flatMap((a, i) => (a === name && process.argv[i + 1] ? [process.argv[i + 1]!] : []));
}

/** Compiles the engine reported (BUN_JSC_reportCompileTimes), by tier: how many and their reported ms. */
class JitTally {
  private readonly by = new Map<string, { n: number; ms: number }>();
  private partial = "";

  add(text: string): void {
    const lines = (this.partial + text).split("\n");
    this.partial = lines.pop()!;
    for (const line of lines) {
      const m = / using (\w+) with \w+ into \d+ bytes in ([\d.]+) ms/.exec(line);
      if (!m) continue;
      const t = this.by.get(m[1]!) ?? { n: 0, ms: 0 };
      t.n++;
      t.ms += Number(m[2]);
      this.by.set(m[1]!, t);
    }
  }

  /** What was reported since `since` (a snapshot()). */
  since(since: Map<string, { n: number; ms: number }>): string {
    const parts = [...this.by].map(([tier, t]) => {
      const s0 = since.get(tier) ?? { n: 0, ms: 0 };
      return `${tier} ${t.n - s0.n} (${(t.ms - s0.ms).toFixed(1)} ms)`;
    });
    return parts.join(", ") || "none";
  }

  snapshot(): Map<string, { n: number; ms: number }> {
    return new Map([...this.by].map(([k, v]) => [k, { ...v }]));
  }
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

/** µs per login by thread name (/proc/<pid>/task/<tid>/comm), largest first. */
function byThread(pid: number, before: Map<string, number>, after: Map<string, number>, logins: number): string {
  const by = new Map<string, number>();
  for (const [tid, ns] of after) {
    let comm = "?";
    try {
      comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
    } catch {}
    if (tid === String(pid)) comm = "main";
    by.set(comm, (by.get(comm) ?? 0) + (ns - (before.get(tid) ?? 0)) / 1000 / logins);
  }
  return [...by].filter(([, v]) => v >= 0.5).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ");
}

async function pool<T, R>(items: T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/** The profile's waves: self time by function, then inclusive (the function and what it called). */
function summarize(p: Profile, waves: number, held: boolean): string {
  const segs = busySegments(p, idleNodes(p), PAUSE_MS / 2);
  // Start-up comes first, then the waves; shutdown is short and merged or dropped. A
  // held wave (--hold-ms ≥ PAUSE_MS) is two stretches, its logins and then its close.
  const step = held ? 2 : 1;
  const at = Array.from({ length: waves }, (_, k) => 1 + k * step).filter((i) => i < segs.length);
  const waveSegs = at.map((i) => segs[i]!);
  const lines: string[] = [`busy stretches: ${segs.length} (${segs.map(([a, b]) => b - a).join(", ")} samples); the waves are ${at.map((i) => i + 1).join(", ") || "none"}`];
  const show = (title: string, ranges: [number, number][]) => {
    const t = tally(p, ranges, SAMPLE_MS);
    lines.push(`\n${title}: ${t.total.toFixed(1)} ms sampled`, ...tableLines(t.self, t.total, 40));
    lines.push(`\n${title}, inclusive (the function and what it called):`, ...tableLines(t.inclusive, t.total, 40));
  };
  if (waveSegs.length > 0) show("wave 1 (cold)", waveSegs.slice(0, 1));
  if (waveSegs.length > 1) show(`waves 2..${waveSegs.length} (warm)`, waveSegs.slice(1));
  return lines.join("\n");
}

async function main(): Promise<void> {
  const target = arg("--target", "server");
  const waves = Number(arg("--waves", "5"));
  const logins = Number(arg("--logins", "1000"));
  const concurrency = Number(arg("--concurrency", "50"));
  const tls = process.argv.includes("--tls");
  const profile = process.argv.includes("--profile") ? arg("--profile", "") : undefined;
  const holdMs = Number(arg("--hold-ms", "0"));
  if (!Number.isInteger(holdMs) || holdMs < 0 || (profile && holdMs > 0 && holdMs < PAUSE_MS)) {
    console.error(`--hold-ms wants a whole number of ms${profile ? `: 0, or with --profile at least ${PAUSE_MS} (each wave's close a stretch of its own)` : ""}, got ${arg("--hold-ms", "")}`);
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), "termchat-storm-waves-"));
  const creds = Array.from({ length: logins }, (_, i) => [`u${String(i + 1).padStart(5, "0")}`, `pw${(i * 7919) % 100_003}`] as const);
  const credentials = join(dir, "credentials.txt");
  writeFileSync(credentials, creds.map(([u, p]) => `${u} ${p}`).join("\n") + "\n");
  const transport = tls ? "tls" : "plain";
  const env: Record<string, string> = {};
  for (const kv of args("--jsc")) {
    const [k, v] = kv.split("=");
    if (!k || v === undefined) {
      console.error(`--jsc wants name=value, got ${kv}`);
      process.exit(2);
    }
    env[`BUN_JSC_${k}`] = v;
  }
  const jit = process.argv.includes("--jit-report") ? new JitTally() : undefined;
  if (jit) env.BUN_JSC_reportCompileTimes = "true";
  const t =
    target === "null-relay"
      ? nullRelay(profile ? "" : buildBenchPrograms(dir).nullRelay, transport, profile)
      : chatServer(arg("--bin", join(import.meta.dir, "..", "server")), transport, profile);
  let srv: Running | undefined;
  try {
    const attach = process.argv.includes("--attach") ? arg("--attach", "").split(":").map(Number) : null;
    srv = attach ? { port: attach[0]!, pid: attach[1]!, proc: undefined!, stop: async () => {} } : await t.start({ dir, credentials, env, onStderr: jit && ((text) => jit.add(text)) });
    await Bun.sleep(PAUSE_MS);
    for (let w = 1; w <= waves; w++) {
      const since = markCpu(srv.pid);
      const threads0 = threadCpuNs(srv.pid) ?? new Map<string, number>();
      const jit0 = jit?.snapshot();
      const t0 = performance.now();
      const timer = setTimeout(() => {
        console.error(`wave ${w} took over ${WAVE_MS} ms`);
        killAll();
        process.exit(1);
      }, WAVE_MS);
      const conns: BenchConn[] = await pool([...creds], concurrency, async ([u, p]) => {
        const c = await t.adapter.login(srv!.port, u, p, undefined, tls);
        c.discard();
        return c;
      });
      clearTimeout(timer);
      const ms = performance.now() - t0;
      const cpu = since();
      const threads1 = threadCpuNs(srv.pid) ?? new Map<string, number>();
      console.log(`wave ${w}: ${logins} logins, ${((logins / ms) * 1000).toFixed(0)} logins/s, server ${((cpu * 1000) / logins).toFixed(1)} µs CPU/login; by thread: ${byThread(srv.pid, threads0, threads1, logins)}`);
      if (jit) console.log(`  compiled in the wave: ${jit.since(jit0!)}`);
      const jit1 = jit?.snapshot();
      if (holdMs > 0) {
        // What the wave still costs after its last login: the last presence window's
        // notices, and the JIT compiling what the wave made hot.
        const after = markCpu(srv.pid);
        await Bun.sleep(holdMs);
        const threads2 = threadCpuNs(srv.pid) ?? new Map<string, number>();
        console.log(`  then, in ${holdMs} ms held: ${((after() * 1000) / logins).toFixed(1)} µs CPU/login; by thread: ${byThread(srv.pid, threads1, threads2, logins)}`);
        if (jit) console.log(`  compiled while held: ${jit.since(jit1!)}`);
      }
      for (const c of conns) c.close();
      await Bun.sleep(PAUSE_MS);
    }
  } finally {
    await srv?.stop();
    killAll();
  }
  if (profile) {
    const f = readdirSync(profile).filter((n) => n.endsWith(".cpuprofile")).map((n) => join(profile, n)).sort().at(-1);
    if (f) console.log(summarize(JSON.parse(readFileSync(f, "utf8")) as Profile, waves, holdMs > 0));
  }
  rmSync(dir, { recursive: true, force: true });
}

await main();
