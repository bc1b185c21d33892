/**
 * The hub's own CPU per login on a fresh process, without sockets: the rules, the
 * session, presence and its notice windows, as a login storm drives them.
 *
 *   bun bench/hub-logins.ts [--runs 7] [--logins 1000] [--window 500] [--src dir ...]
 *
 * Each run is a new Bun process (a cold JIT, as after a restart) that makes a Hub
 * (memory store, manual clock, an outbox that only counts), then for each of
 * `logins` users: connect, hello (version 3), login; every `window` logins the
 * clock moves on by the notice window, so the presence notices of the logins so
 * far go out to everyone in as many runs as a storm at that rate would send. The
 * figure is the process's CPU (every thread: the JIT compiles on its own threads)
 * over those logins ÷ logins, in µs, read as bench/lib/proc.ts reads a server's.
 * Several --src trees (checkouts of this repository) take turns, run by run, so
 * an old and a new hub are compared on the same machine at the same time.
 */
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");

async function child(src: string, logins: number, window: number): Promise<void> {
  const { Hub } = await import(join(src, "src/server/hub.ts"));
  const { ManualClock } = await import(join(src, "src/common/clock.ts"));
  const { silentLogger } = await import(join(src, "src/common/logger.ts"));
  const { memoryStore } = await import(join(src, "src/server/store.ts"));
  const { markCpu } = await import(join(ROOT, "bench/lib/proc.ts"));
  const users = new Map<string, string>();
  for (let i = 1; i <= logins; i++) users.set(`u${String(i).padStart(5, "0")}`, `pw${(i * 7919) % 100_003}`);
  const names = [...users];
  const clock = new ManualClock();
  let sent = 0;
  let runs = 0;
  const out = {
    send: () => void sent++,
    sendMany: (sids: number[]) => void (sent += sids.length),
    sendRun: () => void runs++,
    close: () => {},
    whenDrained: () => {},
  };
  const cfg = { blockMs: 60_000, timeoutMs: 3_600_000, preLoginMs: 60_000, maxLoginAttempts: 5, maxMailbox: 10_000 };
  const hub = new Hub(users, memoryStore(), clock, cfg, out, silentLogger);
  const since = markCpu(process.pid);
  for (let i = 0; i < logins; i++) {
    const sid = i + 1;
    const [user, pass] = names[i]!;
    hub.connect(sid, "127.0.0.1", {});
    hub.receive(sid, { t: "hello", v: 3 });
    hub.receive(sid, { t: "login", user, pass });
    if ((i + 1) % window === 0) clock.advance(100);
  }
  const cpu = since();
  if (sent < 2 * logins || runs === 0) throw new Error(`the hub did not answer: ${sent} sent, ${runs} runs`);
  console.log(JSON.stringify({ usPerLogin: (cpu * 1000) / logins, sent, runs }));
}

async function main(): Promise<void> {
  const arg = (n: string, d: string) => {
    const i = process.argv.indexOf(n);
    return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : d;
  };
  const logins = Number(arg("--logins", "1000"));
  const window = Number(arg("--window", "500"));
  if (process.argv.includes("--child")) return child(resolve(arg("--src", ROOT)), logins, window);
  const runs = Number(arg("--runs", "7"));
  const srcs = process.argv.flatMap((a, i) => (a === "--src" ? [resolve(process.argv[i + 1]!)] : []));
  if (srcs.length === 0) srcs.push(ROOT);
  const figures = new Map<string, number[]>(srcs.map((s) => [s, []]));
  for (let r = 0; r < runs; r++) {
    for (const src of srcs) {
      const p = Bun.spawnSync([process.execPath, import.meta.path, "--child", "--src", src, "--logins", String(logins), "--window", String(window)], {
        stdout: "pipe",
        stderr: "pipe",
        timeout: 60_000,
      });
      if (p.exitCode !== 0) throw new Error(`run on ${src} failed: ${p.stderr.toString()}`);
      const { usPerLogin } = JSON.parse(p.stdout.toString()) as { usPerLogin: number };
      figures.get(src)!.push(usPerLogin);
    }
  }
  for (const [src, f] of figures) {
    const sorted = [...f].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    console.log(`${src}: median ${median.toFixed(1)} µs/login (runs ${f.map((x) => x.toFixed(1)).join(", ")})`);
  }
}

await main();
