/**
 * Process plumbing for the bench: spawn and kill by PID, wait for a port, and
 * read a process's memory and CPU from /proc (Linux only).
 */
import type { Subprocess } from "bun";
import { readFileSync } from "node:fs";

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

/** CPU time (user + system) a process has used so far, in ms. */
export function cpuMsOf(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / TICK;
  } catch {
    return 0;
  }
}

/** Measures a process's CPU use between start() and stop(), as % of one core. */
export class CpuMeter {
  private t0 = 0;
  private c0 = 0;
  constructor(private readonly sample: () => number) {}
  static forPid(pid: number): CpuMeter {
    return new CpuMeter(() => cpuMsOf(pid));
  }
  static self(): CpuMeter {
    return new CpuMeter(() => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    });
  }
  start(): void {
    this.t0 = performance.now();
    this.c0 = this.sample();
  }
  /** Percent of one core used since start(). */
  stop(): number {
    const wall = performance.now() - this.t0;
    return wall > 0 ? (100 * (this.sample() - this.c0)) / wall : 0;
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
