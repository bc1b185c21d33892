/**
 * The load generator: a worker process the bench starts for each scenario (by
 * PID, over an IPC channel). It receives one job, drives the server through an
 * adapter, and sends back figures and its own CPU use. A worker never runs past
 * the job's deadlines; the parent kills it if it does.
 *
 *   parent → worker: Job                                    (then, for "hold": {t:"add"}, {t:"stop"})
 *   worker → parent: {t:"result", ...} | {t:"ready", ...} | {t:"error", message}
 */
import type { Adapter, BenchConn } from "./lib/adapter.ts";
import { chatAdapter } from "./lib/chat-adapter.ts";
import { ircAdapter } from "./lib/irc-adapter.ts";
import { CpuMeter } from "./lib/proc.ts";
import { readTime } from "./lib/sock.ts";
import { Histogram, Samples } from "./lib/stats.ts";

export type Cred = [user: string, pass: string];
export type AdapterName = "chat" | "irc";

/** Every job names the transport: `tls` = the adapter speaks TLS to the server's TLS port. */
export type Job = (
  | { t: "hold"; adapter: AdapterName; port: number; users: Cred[]; concurrency: number }
  | {
      t: "direct";
      adapter: AdapterName;
      port: number;
      /** Receivers log in here (another server of a cluster); default: `port`. */
      receiverPort?: number;
      serverPid: number;
      pairs: [Cred, Cred][];
      window: number;
      warmupMs: number;
      durationMs: number;
      drainMs: number;
      textBytes: number;
      concurrency: number;
    }
  | {
      t: "broadcast";
      adapter: AdapterName;
      port: number;
      serverPid: number;
      users: Cred[];
      count: number;
      perSecond: number;
      drainMs: number;
      textBytes: number;
      concurrency: number;
    }
  | { t: "storm"; adapter: AdapterName; port: number; serverPid: number; users: Cred[]; concurrency: number }
  | { t: "mailbox"; adapter: AdapterName; port: number; serverPid: number; user: Cred; expect: number; timeoutMs: number }
) & { tls: boolean };

export type HoldReady = { t: "ready"; held: number; lost: number; ms: number; cpu: number };
export type DirectResult = {
  t: "result";
  sent: number;
  delivered: number;
  lost: number;
  perSecond: number;
  p50: number;
  p99: number;
  cpu: number;
  serverCpu: number;
};
export type BroadcastResult = { t: "result"; expected: number; delivered: number; lost: number; p50: number; p99: number; cpu: number; serverCpu: number; setupMs: number };
export type StormResult = {
  t: "result";
  logins: number;
  perSecond: number;
  p50: number;
  p99: number;
  cpu: number;
  serverCpu: number;
  /** Server CPU ms from the storm's start until no client received anything for SETTLE_QUIET_MS. */
  serverCpuMsSettled: number;
};
/** Longer than any presence window of our server (notice-batch.ts), so the last one is in. */
const SETTLE_QUIET_MS = 1500;
export type MailboxResult = { t: "result"; received: number; loginMs: number; lastMs: number; cpu: number; serverCpu: number };

const adapters: Record<AdapterName, Adapter> = { chat: chatAdapter, irc: ircAdapter };
/** The job's adapter, speaking the job's transport. */
function adapterOf(job: Job): Adapter {
  const a = adapters[job.adapter];
  return { name: a.name, login: (port, user, pass, onMessage) => a.login(port, user, pass, onMessage, job.tls) };
}
const now = () => performance.now();

/** A text of `bytes` ASCII bytes that starts with the send time in µs (performance.now clock). */
const pads: string[] = [];
function stamped(bytes: number): string {
  const t = String(Math.round(now() * 1000));
  const k = bytes - t.length - 1;
  return k < 0 ? t : t + (pads[k] ??= " " + "x".repeat(k));
}
function sentAt(text: string): number {
  return parseInt(text, 10) / 1000;
}

/** Run fn over items with at most `n` at a time. */
async function pool<T, R>(items: T[], n: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/** Wait until no connection has received anything for quietMs (or maxMs passed). */
async function quiet(conns: BenchConn[], quietMs: number, maxMs: number): Promise<void> {
  const total = () => conns.reduce((s, c) => s + c.received, 0);
  const deadline = now() + maxMs;
  let last = total();
  let since = now();
  while (now() < deadline) {
    await Bun.sleep(Math.min(100, quietMs));
    const t = total();
    if (t !== last) {
      last = t;
      since = now();
    } else if (now() - since >= quietMs) return;
  }
}

async function loginAll(a: Adapter, port: number, users: Cred[], concurrency: number): Promise<BenchConn[]> {
  return pool(users, concurrency, ([u, p]) => a.login(port, u, p));
}

// ---- jobs ----

const held: BenchConn[] = [];
let heldLost = 0;

async function hold(job: Extract<Job, { t: "hold" }>): Promise<HoldReady> {
  const cpu = CpuMeter.self();
  cpu.start();
  const t0 = now();
  const a = adapterOf(job);
  const conns = await pool(job.users, job.concurrency, async ([u, p]) => {
    const c = await a.login(job.port, u, p);
    c.discard();
    return c;
  });
  for (const c of conns) c.onClose = () => heldLost++;
  held.push(...conns);
  const ms = now() - t0;
  // Our server announces every login to everyone online: let that settle.
  await quiet(held, 300, 120_000);
  return { t: "ready", held: held.length, lost: heldLost, ms, cpu: cpu.stop() };
}

async function direct(job: Extract<Job, { t: "direct" }>): Promise<DirectResult> {
  const a = adapterOf(job);
  const senders = await loginAll(a, job.port, job.pairs.map((p) => p[0]), job.concurrency);
  // Senders never look at what comes back (our protocol's replies): read and drop it.
  for (const s of senders) s.discard();
  const receivers = await loginAll(a, job.receiverPort ?? job.port, job.pairs.map((p) => p[1]), job.concurrency);
  const lat = new Histogram();
  let sending = true;
  let recording = false;
  let sent = 0;
  let delivered = 0;
  let deliveredInWindow = 0;
  const inflight = new Int32Array(job.pairs.length);
  let closed: string | null = null;
  for (const c of [...senders, ...receivers]) c.onClose = (why) => (closed ??= `${c.user}: ${why}`);

  // Texts name a slot ("0042 xxx…"); each pair keeps the send time of each slot. A
  // slot is reused only after `ring` more sends, and at most `window` are in flight,
  // so a delivery always finds its own send time. (Cheaper than printing a time into
  // every text: at 500k messages/s that was a sixth of the loadgen's CPU.)
  const ring = Math.max(64, 2 * job.window);
  const texts = Array.from({ length: ring }, (_, k) => {
    const id = String(k).padStart(4, "0");
    return id + " " + "x".repeat(Math.max(0, job.textBytes - id.length - 1));
  });
  // Each pair's texts, encoded once (the bytes a send would write; the id is filled in per send).
  const prepared = senders.map((s, i) => texts.map((text) => s.prepare(job.pairs[i]![1][0], text)));
  const sentTimes = job.pairs.map(() => new Float64Array(ring));
  const seqs = new Int32Array(job.pairs.length);
  const sendNext = (i: number, t: number) => {
    const slot = seqs[i]!++ % ring;
    sentTimes[i]![slot] = t;
    sent++;
    inflight[i]!++;
    senders[i]!.sendPrepared(prepared[i]![slot]!);
  };
  job.pairs.forEach((_, i) => {
    const r = receivers[i]!;
    const times = sentTimes[i]!;
    r.listening = true;
    r.onMessage = (_from, text) => {
      // Every message of one read arrived together: one clock reading per read.
      const t = readTime();
      delivered++;
      inflight[i]!--;
      if (recording) {
        deliveredInWindow++;
        const slot =
          (text.charCodeAt(0) - 48) * 1000 + (text.charCodeAt(1) - 48) * 100 + (text.charCodeAt(2) - 48) * 10 + (text.charCodeAt(3) - 48);
        lat.add(t - times[slot]!);
      }
      if (sending) sendNext(i, t);
    };
  });
  const cpu = CpuMeter.self();
  const srv = CpuMeter.forPid(job.serverPid);
  const start = now();
  for (let i = 0; i < job.pairs.length; i++) for (let k = 0; k < job.window; k++) sendNext(i, start);
  await Bun.sleep(job.warmupMs);
  recording = true;
  cpu.start();
  srv.start();
  const t0 = now();
  await Bun.sleep(job.durationMs);
  recording = false;
  const window = now() - t0;
  const cpuPct = cpu.stop();
  const srvPct = srv.stop();
  sending = false;
  const deadline = now() + job.drainMs;
  while (delivered < sent && now() < deadline && !closed) await Bun.sleep(20);
  for (const c of [...senders, ...receivers]) c.close();
  if (closed && delivered < sent) throw new Error(`connection lost during the run: ${closed}`);
  const [p50, p99] = lat.percentiles(50, 99);
  return {
    t: "result",
    sent,
    delivered,
    lost: sent - delivered,
    perSecond: (deliveredInWindow / window) * 1000,
    p50: p50!,
    p99: p99!,
    cpu: cpuPct,
    serverCpu: srvPct,
  };
}

async function broadcast(job: Extract<Job, { t: "broadcast" }>): Promise<BroadcastResult> {
  const a = adapterOf(job);
  const t0 = now();
  const conns = await loginAll(a, job.port, job.users, job.concurrency);
  await pool(conns, job.concurrency, (c) => c.joinBroadcast());
  await quiet(conns, 500, 60_000);
  const setupMs = now() - t0;
  const [sender, ...rest] = conns;
  const lat = new Samples();
  let delivered = 0;
  let closed: string | null = null;
  for (const c of conns) c.onClose = (why) => (closed ??= `${c.user}: ${why}`);
  for (const r of rest) {
    r.listening = true;
    r.onMessage = (_from, text) => {
      delivered++;
      lat.add(now() - sentAt(text));
    };
  }
  const expected = job.count * rest.length;
  const cpu = CpuMeter.self();
  const srv = CpuMeter.forPid(job.serverPid);
  cpu.start();
  srv.start();
  const start = now();
  for (let k = 0; k < job.count; k++) {
    const due = start + (k * 1000) / job.perSecond;
    const wait = due - now();
    if (wait > 0) await Bun.sleep(wait);
    sender!.broadcast(stamped(job.textBytes));
  }
  const deadline = now() + job.drainMs;
  while (delivered < expected && now() < deadline && !closed) await Bun.sleep(20);
  const cpuPct = cpu.stop();
  const srvPct = srv.stop();
  for (const c of conns) c.close();
  if (closed && delivered < expected) throw new Error(`connection lost during the run: ${closed}`);
  const [p50, p99] = lat.percentiles(50, 99);
  return { t: "result", expected, delivered, lost: expected - delivered, p50: p50!, p99: p99!, cpu: cpuPct, serverCpu: srvPct, setupMs };
}

async function storm(job: Extract<Job, { t: "storm" }>): Promise<StormResult> {
  const a = adapterOf(job);
  const times = new Samples();
  const cpu = CpuMeter.self();
  const srv = CpuMeter.forPid(job.serverPid);
  cpu.start();
  srv.start();
  const t0 = now();
  const conns = await pool(job.users, job.concurrency, async ([u, p]) => {
    const s = now();
    const c = await a.login(job.port, u, p);
    times.add(now() - s);
    c.discard();
    return c;
  });
  const total = now() - t0;
  const cpuPct = cpu.stop();
  const srvPct = srv.stop();
  // What the server spends on the storm until everything it owes for it went out
  // (our server's presence notices wait up to a window after the last login).
  await quiet(conns, SETTLE_QUIET_MS, 15_000);
  const settledMs = srv.cpuMs();
  for (const c of conns) c.close();
  const [p50, p99] = times.percentiles(50, 99);
  return {
    t: "result",
    logins: conns.length,
    perSecond: (conns.length / total) * 1000,
    p50: p50!,
    p99: p99!,
    cpu: cpuPct,
    serverCpu: srvPct,
    serverCpuMsSettled: settledMs,
  };
}

async function mailbox(job: Extract<Job, { t: "mailbox" }>): Promise<MailboxResult> {
  const a = adapterOf(job);
  const cpu = CpuMeter.self();
  const srv = CpuMeter.forPid(job.serverPid);
  cpu.start();
  srv.start();
  const t0 = now();
  let received = 0;
  let last = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((r) => (done = r));
  let closed: string | null = null;
  const c = await a.login(job.port, job.user[0], job.user[1], () => {
    received++;
    last = now();
    if (received >= job.expect) done();
  });
  const loginMs = now() - t0;
  c.onClose = (why) => {
    closed = why;
    done();
  };
  let timer: Timer | undefined;
  await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, job.timeoutMs)))]);
  clearTimeout(timer);
  const cpuPct = cpu.stop();
  const srvPct = srv.stop();
  // Let the server handle the last acks before the connection goes (not timed).
  if (received >= job.expect && c.settle) {
    let t: Timer | undefined;
    await Promise.race([c.settle(), new Promise<void>((r) => (t = setTimeout(r, 10_000)))]);
    clearTimeout(t);
  }
  c.close();
  if (received < job.expect) {
    throw new Error(`only ${received} of ${job.expect} offline messages arrived${closed ? ` (connection closed: ${closed})` : ""}`);
  }
  return { t: "result", received, loginMs, lastMs: last - t0, cpu: cpuPct, serverCpu: srvPct };
}

// ---- process glue ----

function reply(m: unknown): void {
  process.send!(m);
}

async function run(job: Job | { t: "add"; users: Cred[] } | { t: "stop" }, holdJob: { current?: Extract<Job, { t: "hold" }> }) {
  switch (job.t) {
    case "hold":
      holdJob.current = job;
      return reply(await hold(job));
    case "add":
      return reply(await hold({ ...holdJob.current!, users: job.users }));
    case "stop":
      for (const c of held) c.close();
      process.exit(0);
    case "direct":
      return reply(await direct(job));
    case "broadcast":
      return reply(await broadcast(job));
    case "storm":
      return reply(await storm(job));
    case "mailbox":
      return reply(await mailbox(job));
  }
}

if (import.meta.main) {
  const holdJob: { current?: Extract<Job, { t: "hold" }> } = {};
  process.on("message", (job: any) => {
    run(job, holdJob).catch((e) => {
      reply({ t: "error", message: (e as Error).message ?? String(e) });
      setTimeout(() => process.exit(1), 50);
    });
  });
  // The parent going away ends the worker too.
  process.on("disconnect", () => process.exit(0));
}
