/**
 * The scenarios, parent side: start the target, hand the load to loadgen
 * workers, measure the server process from /proc, stop everything by PID.
 * Each returns flat figures (name → number) for one run against one target.
 */
import { copyFileSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { sqliteStore } from "../src/server/sqlite-store.ts";
import type {
  BroadcastResult,
  Cred,
  DirectResult,
  HoldReady,
  Job,
  MailboxResult,
  StormResult,
} from "./loadgen.ts";
import { memOf, restingRss } from "./lib/proc.ts";
import { median } from "./lib/stats.ts";
import type { Running, StartOptions, Target } from "./lib/targets.ts";
import { Worker } from "./lib/worker.ts";

export type Figures = Record<string, number>;

export type Sizes = {
  idle: number[];
  directPairs: number;
  window: number;
  warmupMs: number;
  directMs: number;
  broadcastClients: number;
  broadcasts: number;
  broadcastPerSecond: number;
  stormLogins: number;
  stormConcurrency: number;
  mailbox: number;
  startupRuns: number;
  textBytes: number;
  /** How long idle RSS is watched for its resting (lowest) value after each step. */
  restMs: number;
};

export const FULL: Sizes = {
  idle: [1000, 5000, 10000],
  directPairs: 100,
  window: 32,
  warmupMs: 1000,
  directMs: 10_000,
  broadcastClients: 1000,
  broadcasts: 100,
  broadcastPerSecond: 10,
  stormLogins: 1000,
  stormConcurrency: 50,
  mailbox: 100_000,
  startupRuns: 15,
  textBytes: 64,
  restMs: 12_000,
};

/** Every scenario at a tiny size: for the test that keeps the bench from rotting. */
export const TINY: Sizes = {
  idle: [10, 20],
  directPairs: 5,
  window: 4,
  warmupMs: 100,
  directMs: 500,
  broadcastClients: 10,
  broadcasts: 5,
  broadcastPerSecond: 20,
  stormLogins: 20,
  stormConcurrency: 10,
  mailbox: 300,
  startupRuns: 2,
  textBytes: 64,
  restMs: 200,
};

export type Ctx = {
  sizes: Sizes;
  creds: Cred[];
  start: StartOptions;
  /** A SQLite file holding `sizes.mailbox` offline messages for creds[0] (see prefillMailbox). */
  mailboxSeed?: string;
};

const MiB = 1024 * 1024;

async function withServer<T>(target: Target, o: StartOptions, fn: (r: Running) => Promise<T>): Promise<T> {
  const r = await target.start(o);
  try {
    return await fn(r);
  } finally {
    await r.stop();
  }
}

async function withWorkers<T>(n: number, fn: (ws: Worker[]) => Promise<T>): Promise<T> {
  const ws = Array.from({ length: n }, () => new Worker());
  try {
    return await fn(ws);
  } finally {
    await Promise.all(ws.map((w) => w.stop()));
  }
}

/** 1. idle: logged-in idle clients; server RSS per connection over the RSS it started with. */
export async function idle(target: Target, ctx: Ctx): Promise<Figures> {
  const sizes = ctx.sizes.idle;
  const most = Math.max(...sizes);
  // One process per 5 000 connections (ulimit -n is 20 000; keep clear of it).
  const nWorkers = Math.min(2, Math.ceil(most / 5000));
  return withServer(target, ctx.start, (srv) =>
    withWorkers(nWorkers, async (ws) => {
      await Bun.sleep(300);
      const rss0 = await restingRss(srv.pid, Math.min(3000, ctx.sizes.restMs));
      const f: Figures = { "start RSS MiB": rss0 / MiB };
      let prev = 0;
      let first = true;
      for (const n of sizes) {
        const add = ctx.creds.slice(prev, n);
        const parts = ws.map((_, i) => add.filter((_, k) => k % ws.length === i));
        const t0 = performance.now();
        const answers = await Promise.all(
          ws.map((w, i) =>
            w.run<HoldReady>(
              first
                ? ({ t: "hold", adapter: target.adapter.name as "chat" | "irc", port: srv.port, tls: target.tls, users: parts[i]!, concurrency: Math.ceil(target.setupConcurrency / ws.length) } satisfies Job)
                : { t: "add", users: parts[i]! },
              180_000,
            ),
          ),
        );
        const ms = performance.now() - t0;
        first = false;
        prev = n;
        const rss = await restingRss(srv.pid, ctx.sizes.restMs);
        const held = answers.reduce((s, a) => s + a.held - a.lost, 0);
        f[`KiB/conn @${n}`] = (rss - rss0) / 1024 / n;
        f[`held @${n}`] = held;
        f[`connect+login s @${n}`] = ms / 1000;
        // The loadgen's share while connecting (it is idle once they are held).
        f[`loadgen CPU % @${n}`] = median(answers.map((a) => a.cpu));
      }
      f["RSS MiB @max"] = memOf(srv.pid).rss / MiB;
      return f;
    }),
  );
}

/** 2. direct: sender→receiver pairs with a bounded window, for a fixed time. */
export async function direct(target: Target, ctx: Ctx): Promise<Figures> {
  const s = ctx.sizes;
  const pairs: [Cred, Cred][] = [];
  for (let i = 0; i < s.directPairs; i++) pairs.push([ctx.creds[2 * i]!, ctx.creds[2 * i + 1]!]);
  return withServer(target, ctx.start, (srv) =>
    withWorkers(1, async ([w]) => {
      const r = await w!.run<DirectResult>(
        {
          t: "direct",
          adapter: target.adapter.name as "chat" | "irc",
          port: srv.port,
          tls: target.tls,
          serverPid: srv.pid,
          pairs,
          window: s.window,
          warmupMs: s.warmupMs,
          durationMs: s.directMs,
          drainMs: 10_000,
          textBytes: s.textBytes,
          concurrency: target.setupConcurrency,
        } satisfies Job,
        s.directMs + s.warmupMs + 60_000,
      );
      return {
        "msgs/s": r.perSecond,
        "p50 ms": r.p50,
        "p99 ms": r.p99,
        lost: r.lost,
        "loadgen CPU %": r.cpu,
        "server CPU %": r.serverCpu,
        // CPU per message: what each side pays, whatever share of the cores it got.
        "server µs/msg": (r.serverCpu * 1e4) / r.perSecond,
        "loadgen µs/msg": (r.cpu * 1e4) / r.perSecond,
        "server RSS MiB": memOf(srv.pid).rss / MiB,
      };
    }),
  );
}

/** 3. broadcast: many logged-in clients, one sender at a fixed rate. */
export async function broadcast(target: Target, ctx: Ctx): Promise<Figures> {
  const s = ctx.sizes;
  return withServer(target, ctx.start, (srv) =>
    withWorkers(1, async ([w]) => {
      const r = await w!.run<BroadcastResult>(
        {
          t: "broadcast",
          adapter: target.adapter.name as "chat" | "irc",
          port: srv.port,
          tls: target.tls,
          serverPid: srv.pid,
          users: ctx.creds.slice(0, s.broadcastClients),
          count: s.broadcasts,
          perSecond: s.broadcastPerSecond,
          drainMs: 10_000,
          textBytes: s.textBytes,
          concurrency: target.setupConcurrency,
        } satisfies Job,
        (s.broadcasts / s.broadcastPerSecond) * 1000 + 120_000,
      );
      return {
        "p50 ms": r.p50,
        "p99 ms": r.p99,
        lost: r.lost,
        delivered: r.delivered,
        "loadgen CPU %": r.cpu,
        "server CPU %": r.serverCpu,
      };
    }),
  );
}

/** 4. login storm: many logins, a bounded number at a time. */
export async function storm(target: Target, ctx: Ctx): Promise<Figures> {
  const s = ctx.sizes;
  return withServer(target, ctx.start, (srv) =>
    withWorkers(1, async ([w]) => {
      const r = await w!.run<StormResult>(
        {
          t: "storm",
          adapter: target.adapter.name as "chat" | "irc",
          port: srv.port,
          tls: target.tls,
          serverPid: srv.pid,
          users: ctx.creds.slice(0, s.stormLogins),
          concurrency: s.stormConcurrency,
        } satisfies Job,
        120_000,
      );
      return {
        "logins/s": r.perSecond,
        "p50 ms": r.p50,
        "p99 ms": r.p99,
        logins: r.logins,
        "loadgen CPU %": r.cpu,
        "server CPU %": r.serverCpu,
        "server µs/login": (r.serverCpu * 1e4) / r.perSecond,
        // The same, counted until the notices the storm caused were sent (the quiet wait after it is idle time).
        "server µs/login incl. notices": (r.serverCpuMsSettled * 1000) / r.logins,
      };
    }),
  );
}

/**
 * Fill a SQLite store with `n` offline messages for `to`, through the project's
 * own store module (so the schema is not copied here). On tmpfs when there is
 * one: each put is its own durable commit. Returns the file (closed, WAL merged).
 */
export function prefillMailbox(dir: string, to: string, from: string, n: number, textBytes: number): string {
  const shm = existsSync("/dev/shm") ? "/dev/shm" : dir;
  const file = join(shm, `termchat-bench-mailbox-${process.pid}.sqlite`);
  for (const ext of ["", "-wal", "-shm"]) rmSync(file + ext, { force: true });
  const store = sqliteStore(file);
  const pad = "m".repeat(Math.max(0, textBytes - 8));
  for (let i = 0; i < n; i++) store.mailbox.put(to, { from, text: `${String(i).padStart(7, "0")} ${pad}`, at: Date.now() });
  store.close();
  // The store's prepared statements keep the WAL from being merged on close: copy it too.
  const out = join(dir, "mailbox-seed.sqlite");
  copySqlite(file, out);
  for (const ext of ["", "-wal", "-shm"]) rmSync(file + ext, { force: true });
  return out;
}

function copySqlite(from: string, to: string): void {
  for (const ext of ["", "-wal"]) {
    rmSync(to + ext, { force: true });
    if (existsSync(from + ext)) copyFileSync(from + ext, to + ext);
  }
}

/** 5. mailbox: a user with many offline messages logs in; time until the last is shown. */
export async function mailbox(target: Target, ctx: Ctx): Promise<Figures | null> {
  if (!target.hasMailbox || !ctx.mailboxSeed) return null;
  const s = ctx.sizes;
  const store = join(ctx.start.dir, `mailbox-run-${Date.now()}.sqlite`);
  copySqlite(ctx.mailboxSeed, store);
  try {
    const figures: Figures = await withServer(target, { ...ctx.start, store }, (srv) =>
      withWorkers(1, async ([w]) => {
        const rss0 = await restingRss(srv.pid, Math.min(3000, s.restMs));
        const r = await w!.run<MailboxResult>(
          {
            t: "mailbox",
            adapter: target.adapter.name as "chat" | "irc",
            port: srv.port,
            tls: target.tls,
            serverPid: srv.pid,
            user: ctx.creds[0]!,
            expect: s.mailbox,
            timeoutMs: 60_000,
          } satisfies Job,
          90_000,
        );
        return {
          "last shown s": r.lastMs / 1000,
          "msgs/s": (r.received / r.lastMs) * 1000,
          "login ms": r.loginMs,
          "RSS before MiB": rss0 / MiB,
          "peak RSS MiB": memOf(srv.pid).hwm / MiB,
          "loadgen CPU %": r.cpu,
          "server CPU %": r.serverCpu,
        };
      }),
    );
    // The client acknowledged what it was shown (protocol v2): the server, now stopped, deleted it all.
    const after = sqliteStore(store);
    figures["left unacked"] = after.mailbox.count(ctx.creds[0]![0]);
    after.close();
    return figures;
  } finally {
    for (const ext of ["", "-wal", "-shm"]) rmSync(store + ext, { force: true });
  }
}

/** Median wall time of running cmd to completion, in ms (after one warm-up run). */
export async function wallMs(cmd: string[], runs: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    const p = Bun.spawn(cmd, { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    const t = setTimeout(() => p.kill("SIGKILL"), 10_000);
    const code = await p.exited;
    clearTimeout(t);
    if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}`);
    if (i > 0) times.push(performance.now() - t0);
  }
  return median(times);
}

/** 6. startup: wall time of ./client --version, ./server --help and the hello-worlds, interleaved. */
export async function startup(
  bins: { client: string; server: string; hello: string; helloReadline: string },
  runs: number,
): Promise<Figures> {
  const cmds = {
    "client --version ms": [bins.client, "--version"],
    "server --help ms": [bins.server, "--help"],
    "hello-world ms": [bins.hello, "--version"],
    "hello-world + readline ms": [bins.helloReadline, "--version"],
  };
  const times: Record<string, number[]> = {};
  for (const k of Object.keys(cmds)) times[k] = [];
  for (let i = 0; i < runs; i++) {
    for (const [k, cmd] of Object.entries(cmds)) times[k]!.push(await wallMs(cmd, 1));
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}
