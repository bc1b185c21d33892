/**
 * Client CPU per received message: what a real ./client pays to take a direct
 * message off the wire and show it (decode, sanitize, format, write a line).
 *
 *   bun bench/client-receive.ts [client ...] [--messages 500000] [--runs 3] [--window 256] [--transports plain,tls]
 *
 * ./server (the built binary) runs on 127.0.0.1 at a port the OS picks, plain
 * (--no-tls) and TLS. Each client binary given (default ./client) is logged in as
 * one user, its stdin a pipe kept open, its stdout a pipe this script drains and
 * counts lines on (not a terminal: no colours, no prompt). A sender (the project's
 * codec, bench/lib/chat-adapter.ts) sends it N messages of 64 bytes, at most
 * `window` ahead of the lines the client has shown. The client's CPU time
 * (user + system, in ns, from each thread's /proc/<pid>/task/<tid>/schedstat: see
 * bench/lib/proc.ts) is read at the first message sent and at the last line shown;
 * the figure is that difference ÷ N, in µs. The clients take turns (A, B, A, B, ...) against the same server; the median of the
 * runs is reported per client and transport. Every process started is ended by
 * PID, also on an error; each run is bounded in time.
 */
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chatAdapter } from "./lib/chat-adapter.ts";
import { killAll, markCpu, spawnTracked, stopProcess } from "./lib/proc.ts";
import { median } from "./lib/stats.ts";
import { chatServer, type Running, type Transport } from "./lib/targets.ts";

const ROOT = join(import.meta.dir, "..");
/** Where the built ./server and ./client are (CHAT_BIN_DIR, as the tests use, or the repository). */
const BIN_DIR = process.env.CHAT_BIN_DIR ?? ROOT;
/** The client given as `src`: run from source under the CPU profiler (with --profile <dir>). */
const SOURCE = "src";
const RUN_MS = 120_000;
const LOGIN_MS = 20_000;
const RECEIVER = ["u00001", "pw-recv"] as const;
const SENDER = ["u00002", "pw-send"] as const;

type Options = { clients: string[]; messages: number; runs: number; window: number; transports: Transport[]; profileDir?: string };

function parseArgs(argv: string[]): Options {
  const o: Options = { clients: [], messages: 500_000, runs: 3, window: 256, transports: ["plain", "tls"] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = (name: string) => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${name} needs a whole number ≥ 1`);
      return v;
    };
    if (a === "--messages") o.messages = num(a);
    else if (a === "--runs") o.runs = num(a);
    else if (a === "--window") o.window = num(a);
    else if (a === "--profile") o.profileDir = resolve(argv[++i] ?? ".");
    else if (a === "--transports") o.transports = (argv[++i] ?? "").split(",").filter((t): t is Transport => t === "plain" || t === "tls");
    else if (a.startsWith("--")) throw new Error(`unknown option ${a}`);
    else o.clients.push(a === SOURCE ? SOURCE : resolve(a));
  }
  if (o.clients.length === 0) o.clients.push(o.profileDir ? SOURCE : join(BIN_DIR, "client"));
  if (o.transports.length === 0) throw new Error("--transports: plain, tls or plain,tls");
  return o;
}

/**
 * Counts a child's stdout lines as they arrive; wakes a waiter at a line count or at
 * a wanted line. Until countOnly() (the login) lines are decoded and kept; after it
 * they are counted on the bytes (a newline byte each), so this reader costs little
 * and keeps up.
 */
class LineCounter {
  count = 0;
  done = false;
  private tail = "";
  private textMode = true;
  private readonly seen = new Set<string>();
  private want: { n?: number; line?: string; wake: () => void } | null = null;

  constructor(stream: ReadableStream<Uint8Array>) {
    void (async () => {
      for await (const chunk of stream) this.take(chunk);
      this.done = true;
      this.fire();
    })();
  }

  private take(chunk: Uint8Array): void {
    if (this.textMode) return this.takeText(chunk);
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) this.count++;
    if (this.want?.n !== undefined && this.count >= this.want.n) this.fire();
  }

  private takeText(chunk: Uint8Array): void {
    const s = this.tail + new TextDecoder().decode(chunk);
    let start = 0;
    for (let i = s.indexOf("\n"); i >= 0; i = s.indexOf("\n", start)) {
      this.count++;
      this.seen.add(s.slice(start, i));
      if (this.want?.line !== undefined && this.seen.has(this.want.line)) this.fire();
      start = i + 1;
    }
    this.tail = s.slice(start);
  }

  /** From now on only count lines. */
  countOnly(): void {
    this.textMode = false;
    this.seen.clear();
  }

  private fire(): void {
    const w = this.want;
    this.want = null;
    w?.wake();
  }

  /** Resolve at the line `line`, or once `n` lines have been seen; throw at EOF or after ms. */
  until(what: { n?: number; line?: string }, ms: number): Promise<void> {
    if ((what.n !== undefined && this.count >= what.n) || (what.line !== undefined && this.seen.has(what.line))) return Promise.resolve();
    if (this.done) return Promise.reject(new Error("client output ended"));
    return new Promise((ok, fail) => {
      const t = setTimeout(() => fail(new Error(`timeout after ${ms} ms waiting for ${JSON.stringify(what)} (${this.count} lines)`)), ms);
      this.want = {
        ...what,
        wake: () => {
          clearTimeout(t);
          if (this.done && !(what.n !== undefined && this.count >= what.n)) fail(new Error("client output ended"));
          else ok();
        },
      };
    });
  }
}

/** One run: log the client in, send it N messages, return µs of its CPU per message. */
async function oneRun(bin: string, srv: Running, tls: boolean, o: Options, dir: string): Promise<{ usPerMsg: number; msgPerS: number }> {
  const home = mkdtempSync(join(dir, "home-"));
  const program =
    bin === SOURCE
      ? [process.execPath, ...(o.profileDir ? ["--cpu-prof", "--cpu-prof-md", "--cpu-prof-interval=250", `--cpu-prof-dir=${o.profileDir}`] : []), join(ROOT, "src/client/main.ts")]
      : [bin];
  const proc = spawnTracked([...program, "127.0.0.1", String(srv.port), ...(tls ? [] : ["--no-tls"])], {
    cwd: home,
    stdin: "pipe",
    stdout: "pipe",
    stderr: "ignore",
    env: { ...process.env, NO_COLOR: "1", HOME: home, XDG_CONFIG_HOME: join(home, ".config") },
  }) as Subprocess<"pipe", "pipe", "ignore">;
  const sender = await chatAdapter.login(srv.port, SENDER[0], SENDER[1], undefined, tls);
  try {
    const out = new LineCounter(proc.stdout);
    await out.until({ line: "Username:" }, LOGIN_MS);
    proc.stdin.write(`${RECEIVER[0]}\n${RECEIVER[1]}\n`);
    proc.stdin.flush();
    await out.until({ line: "Welcome to the greatest messaging application ever!" }, LOGIN_MS);
    out.countOnly();
    const base = out.count;
    const text = "x".repeat(64);
    const t0 = performance.now();
    const cpuSince = markCpu(proc.pid);
    let sent = 0;
    const deadline = Date.now() + RUN_MS;
    while (sent < o.messages) {
      const room = Math.min(o.messages - sent, o.window - (sent - (out.count - base)));
      for (let i = 0; i < room; i++) sender.send(RECEIVER[0], text);
      sent += room;
      await out.until({ n: base + sent - Math.floor(o.window / 2) }, Math.max(1, deadline - Date.now()));
    }
    await out.until({ n: base + o.messages }, Math.max(1, deadline - Date.now()));
    const cpu = cpuSince();
    const wall = performance.now() - t0;
    return { usPerMsg: (cpu * 1000) / o.messages, msgPerS: (o.messages * 1000) / wall };
  } finally {
    sender.close();
    proc.stdin.end(); // end of input: the client logs out and exits (a profiled one writes its profile)
    await Promise.race([proc.exited, Bun.sleep(5000)]);
    await stopProcess(proc);
    rmSync(home, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), "termchat-crecv-"));
  const credentials = join(dir, "credentials.txt");
  writeFileSync(credentials, `${RECEIVER.join(" ")}\n${SENDER.join(" ")}\n`);
  const rows: string[] = [];
  try {
    for (const tr of o.transports) {
      const srv = await chatServer(join(BIN_DIR, "server"), tr).start({ dir, credentials });
      try {
        const figures = new Map<string, { us: number[]; rate: number[] }>(o.clients.map((c) => [c, { us: [], rate: [] }]));
        for (let r = 0; r < o.runs; r++) {
          for (const c of o.clients) {
            const f = await oneRun(c, srv, tr === "tls", o, dir);
            figures.get(c)!.us.push(f.usPerMsg);
            figures.get(c)!.rate.push(f.msgPerS);
            console.log(`${tr.padEnd(5)} run ${r + 1}  ${c}: ${f.usPerMsg.toFixed(2)} µs CPU/message, ${Math.round(f.msgPerS)} messages/s`);
          }
        }
        for (const [c, f] of figures)
          rows.push(`${tr.padEnd(5)} ${c}: median ${median(f.us).toFixed(2)} µs CPU/message (runs: ${f.us.map((x) => x.toFixed(2)).join(", ")}), ${Math.round(median(f.rate))} messages/s`);
      } finally {
        await srv.stop();
      }
    }
    console.log(`\n${o.messages} messages of 64 bytes per run, at most ${o.window} in flight:`);
    for (const r of rows) console.log(r);
  } finally {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.on("SIGINT", () => {
  killAll();
  process.exit(130);
});
try {
  await main();
} catch (e) {
  killAll();
  console.error(`client-receive: ${(e as Error).message}`);
  process.exit(1);
}
