/**
 * Process plumbing for the bench: spawn and kill by PID, wait for a port, and
 * read a process's memory and CPU from /proc (Linux only).
 */
import type { Subprocess } from "bun";
import { readdirSync, readFileSync } from "node:fs";

const live = new Set<Subprocess>();

/** Spawn and remember the process, so killAll() can end it whatever happens. */
export function spawnTracked(cmd: string[], opts: Parameters<typeof Bun.spawn>[1] = {}): Subprocess {
  const p = Bun.spawn(cmd, { stdin: "ignore", stdout: "ignore", stderr: "pipe", ...opts });
  live.add(p);
  void p.exited.then(() => live.delete(p));
  return p;
}

/** End one process we started: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopProcess(p: Subprocess, graceMs = 2000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  p.kill("SIGTERM");
  const t = setTimeout(() => p.kill("SIGKILL"), graceMs);
  await p.exited;
  clearTimeout(t);
  live.delete(p);
}

/** SIGKILL every process this module started that is still running (by PID). */
export function killAll(): void {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  live.clear();
}

/** A port the OS picked (it is free again when this returns; callers retry on a race). */
export function freePort(): number {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  return port;
}

/** Resolve once something accepts TCP connections on 127.0.0.1:port, or throw after `ms`. */
export async function waitForPort(port: number, ms: number, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!alive()) throw new Error(`process exited before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      Bun.connect({
        hostname: "127.0.0.1",
        port,
        socket: {
          open(s) {
            s.end();
            resolve(true);
          },
          data() {},
          connectError() {
            resolve(false);
          },
        },
      }).catch(() => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port} after ${ms} ms`);
    await Bun.sleep(20);
  }
}

/** Resident and peak resident memory of a process, in bytes. */
export function memOf(pid: number): { rss: number; hwm: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? 0) * 1024;
    return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

const TICK = 100; // USER_HZ on Linux

/** CPU time (user + system) of a process from /proc/<pid>/stat, in ms: 10 ms ticks (the fallback). */
function statCpuMs(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / TICK;
  } catch {
    return 0;
  }
}

/**
 * CPU time of each live thread of a process, in ns by thread id: the first field of
 * /proc/<pid>/task/<tid>/schedstat, the scheduler's sum_exec_runtime (user + system,
 * in ns, where /proc/<pid>/stat counts 10 ms ticks). Null when it cannot be read
 * (no such process, or a kernel without schedstat: it then shows "0 0 0").
 *
 * What it misses: a thread that exits is gone from task/ with its time (stat's
 * utime/stime keep dead threads' time; schedstat has no such total), and a thread
 * on a CPU at the moment of reading is counted up to its last scheduler update (at
 * most one scheduler tick, 4 ms at HZ 250, behind).
 */
export function threadCpuNs(pid: number): Map<string, number> | null {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  const ns = new Map<string, number>();
  let any = false;
  for (const tid of tids) {
    try {
      const v = parseSchedstat(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8"));
      if (v === null) continue;
      ns.set(tid, v);
      if (v > 0) any = true;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return any ? ns : null;
}

/** sum_exec_runtime (ns) from a schedstat line "run_ns wait_ns timeslices", or null. */
export function parseSchedstat(line: string): number | null {
  const v = Number(line.slice(0, line.indexOf(" ")));
  return Number.isFinite(v) && v >= 0 && line.indexOf(" ") > 0 ? v : null;
}

/**
 * ms of CPU the threads in `after` used since `before`: a thread seen in both counts
 * its difference, one new since counts in full, one gone since counts nothing (its
 * time in between is lost, but its time before is not taken off the others).
 */
export function cpuMsBetween(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): number {
  let ns = 0;
  for (const [tid, v] of after) {
    const v0 = before.get(tid) ?? 0;
    if (v >= v0) ns += v - v0;
    else ns += v; // a thread id reused by a new thread
  }
  return ns / 1e6;
}

/**
 * CPU time (user + system) a process has used so far, in ms (fractional): the sum of
 * its live threads' schedstat (see threadCpuNs), or /proc/<pid>/stat's 10 ms ticks
 * when schedstat cannot be read; 0 when neither can.
 */
export function cpuMsOf(pid: number): number {
  const t = threadCpuNs(pid);
  if (t === null) return statCpuMs(pid);
  let ns = 0;
  for (const v of t.values()) ns += v;
  return ns / 1e6;
}

/** Starts a CPU reading and returns how to read the ms used since. */
type CpuMark = () => () => number;

/**
 * Marks a process's CPU now; the function returned gives the ms it used since, per
 * thread (cpuMsBetween), or from stat ticks when schedstat is not readable.
 */
export function markCpu(pid: number): () => number {
  const t0 = threadCpuNs(pid);
  if (t0 === null) {
    const c0 = statCpuMs(pid);
    return () => statCpuMs(pid) - c0;
  }
  return () => {
    const t1 = threadCpuNs(pid);
    return t1 === null ? 0 : cpuMsBetween(t0, t1);
  };
}

/** This process's CPU since the mark (process.cpuUsage: µs, every thread, also those that ended). */
function markSelf(): () => number {
  const u0 = process.cpuUsage();
  return () => {
    const u = process.cpuUsage(u0);
    return (u.user + u.system) / 1000;
  };
}

/** Measures a process's CPU use between start() and stop(), as % of one core. */
export class CpuMeter {
  private t0 = 0;
  private since: () => number = () => 0;
  constructor(private readonly mark: CpuMark) {}
  static forPid(pid: number): CpuMeter {
    return new CpuMeter(() => markCpu(pid));
  }
  static self(): CpuMeter {
    return new CpuMeter(markSelf);
  }
  start(): void {
    this.t0 = performance.now();
    this.since = this.mark();
  }
  /** CPU ms used since start(). */
  cpuMs(): number {
    return this.since();
  }
  /** Percent of one core used since start(). */
  stop(): number {
    const wall = performance.now() - this.t0;
    return wall > 0 ? (100 * this.since()) / wall : 0;
  }
}

/**
 * Resident memory once the runtime has given back what it freed: the lowest RSS
 * seen over `windowMs`. (Bun returns freed heap pages some seconds after a burst
 * of allocations: after 10 000 logins RSS sat on a plateau for ~7 s, then fell by
 * half. A C server's RSS is final at once; waiting costs it nothing but time.)
 */
export async function restingRss(pid: number, windowMs = 12_000, everyMs = 500): Promise<number> {
  const deadline = Date.now() + windowMs;
  let min = memOf(pid).rss;
  while (Date.now() < deadline) {
    await Bun.sleep(everyMs);
    const r = memOf(pid).rss;
    if (r > 0) min = Math.min(min, r);
  }
  return min;
}
