/**
 * The bench: every scenario against ./server and the baselines (null relay,
 * ngIRCd, InspIRCd when installed), `--runs` times, interleaved; prints the table
 * of medians with ratios and writes bench/results/<date>.json. Each target runs
 * over both transports (plain TCP, TLS) unless --transports picks one; the ratios
 * compare servers on the same transport, and a last table TLS with plain.
 *
 *   npm run bench                     (builds, then: bun bench/run.ts)
 *   bun bench/run.ts [--runs 3] [--only idle,direct,broadcast,storm,mailbox,startup]
 *                    [--targets server,null-relay,ngircd,inspircd] [--transports plain,tls] [--tls] [--tiny]
 *                    [--idle 1000,5000,10000] [--out file] [--no-save]
 *                    [--profile dir]   (./server and the null relay from source under bun --cpu-prof)
 *
 * Every process it starts (servers, loadgen workers) is ended by PID, also on
 * an error or Ctrl-C. Everything listens on 127.0.0.1 with OS-chosen ports.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { buildBenchPrograms } from "./lib/build.ts";
import { killAll } from "./lib/proc.ts";
import { goals, goalsText, table, tlsTable, type Results } from "./lib/report.ts";
import { chatServer, inspircd, ngircd, nullRelay, TRANSPORTS, type Target, type Transport } from "./lib/targets.ts";
import type { Cred } from "./loadgen.ts";
import * as S from "./scenarios.ts";

const ROOT = join(import.meta.dir, "..");
export const SCENARIOS = ["startup", "idle", "direct", "broadcast", "storm", "mailbox"] as const;
type Scenario = (typeof SCENARIOS)[number];

export type BenchOptions = {
  runs: number;
  sizes: S.Sizes;
  only: Scenario[];
  targets: string[];
  /** Each target over each of these (default: both). */
  transports?: readonly Transport[];
  binDir: string;
  /** Run ./server and the null relay from source under `bun --cpu-prof`, profiles into this folder. */
  profileDir?: string;
  log: (line: string) => void;
};

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function shell(cmd: string[]): string {
  try {
    const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
    return (r.stdout.toString() + r.stderr.toString()).trim().split("\n")[0] ?? "";
  } catch {
    return "";
  }
}

export function machine() {
  return {
    cpu: cpus()[0]?.model ?? "?",
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    bun: Bun.version,
    ngircd: shell(["ngircd", "--version"]),
    inspircd: shell(["inspircd", "--version"]),
    loadavg: loadavg().map((x) => Number(x.toFixed(2))),
  };
}

/** Run the bench; returns the results (figures per run) and notes on what was skipped. */
export async function bench(o: BenchOptions): Promise<{ results: Results; notes: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "termchat-bench-"));
  const notes: string[] = [];
  try {
    const built = buildBenchPrograms(dir);
    const most = Math.max(...o.sizes.idle, 2 * o.sizes.directPairs, o.sizes.broadcastClients, o.sizes.stormLogins, 2);
    const creds: Cred[] = Array.from({ length: most }, (_, i) => [`u${String(i + 1).padStart(5, "0")}`, `pw${(i * 7919) % 100_003}`]);
    const credentials = join(dir, "credentials.txt");
    writeFileSync(credentials, creds.map(([u, p]) => `${u} ${p}`).join("\n") + "\n");

    // Target by target, each over every transport (so a TLS figure and its plain
    // counterpart are measured next to each other in time).
    const all: Target[] = (o.transports ?? TRANSPORTS).flatMap((tr) => [
      chatServer(join(o.binDir, "server"), tr, o.profileDir),
      nullRelay(built.nullRelay, tr, o.profileDir),
      ngircd(tr),
      inspircd(tr),
    ]);
    const targets: Target[] = [];
    for (const t of all.filter((t) => o.targets.includes(t.name))) {
      const why = t.unavailable();
      if (why) notes.push(`${t.column}: ${why}; its column is empty`);
      else targets.push(t);
    }
    targets.sort((a, b) => o.targets.indexOf(a.name) - o.targets.indexOf(b.name));
    const ctx: S.Ctx = { sizes: o.sizes, creds, start: { dir, credentials } };
    if (o.only.includes("mailbox") && targets.some((t) => t.hasMailbox)) {
      const t0 = performance.now();
      ctx.mailboxSeed = S.prefillMailbox(dir, creds[0]![0], creds[1]![0], o.sizes.mailbox, o.sizes.textBytes);
      o.log(`mailbox: ${o.sizes.mailbox} offline messages stored in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }

    const results: Results = {};
    const put = (s: string, col: string, v: Record<string, number> | string | null) => {
      ((results[s] ??= {})[col] ??= []).push(v);
    };
    for (let run = 1; run <= o.runs; run++) {
      for (const s of o.only) {
        if (s === "startup") {
          const bins = { client: join(o.binDir, "client"), server: join(o.binDir, "server"), hello: built.hello, helloReadline: built.helloReadline };
          put(s, "server", await S.startup(bins, o.sizes.startupRuns));
          o.log(`run ${run} ${s}: done`);
          continue;
        }
        for (const t of targets) {
          const t0 = performance.now();
          let v: Record<string, number> | string | null;
          try {
            v = await S[s](t, ctx);
          } catch (e) {
            v = (e as Error).message;
          }
          put(s, t.column, v);
          const secs = ((performance.now() - t0) / 1000).toFixed(1);
          o.log(`run ${run} ${s} ${t.column}: ${v === null ? "n/a" : typeof v === "string" ? `FAILED ${v}` : brief(v)} (${secs} s)`);
        }
      }
    }
    return { results, notes };
  } finally {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

function brief(f: Record<string, number>): string {
  return Object.entries(f)
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(2)}`)
    .join(" ");
}

/**
 * The IRC daemons when a run asks for them and one is missing: bench/ensure-ircd.sh
 * installs Debian's packages (as root, services not started) or says how.
 */
function ensureIrcDaemons(targets: string[], log: (l: string) => void): void {
  if (!targets.some((t) => t === "ngircd" || t === "inspircd")) return;
  const r = Bun.spawnSync(["sh", join(ROOT, "bench", "ensure-ircd.sh")], { stdout: "inherit", stderr: "pipe" });
  if (r.exitCode !== 0) log(`note: ${r.stderr.toString().trim().split("\n").pop()}`);
}

function listArg<T extends string>(name: string, allowed: readonly T[]): T[] | undefined {
  const v = arg(name)?.split(",");
  if (v === undefined) return undefined;
  return v.every((x) => allowed.includes(x as T)) ? (v as T[]) : [];
}

if (import.meta.main) {
  const stop = () => {
    killAll();
    process.exit(130);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const runs = Number(arg("--runs") ?? 3);
  const only = (arg("--only")?.split(",") ?? [...SCENARIOS]) as Scenario[];
  const bad = only.filter((s) => !SCENARIOS.includes(s));
  // --tls: TLS only (as before both transports were run by default).
  const transports = process.argv.includes("--tls") ? (["tls"] as Transport[]) : (listArg("--transports", TRANSPORTS) ?? [...TRANSPORTS]);
  const sizes = { ...(process.argv.includes("--tiny") ? S.TINY : S.FULL) };
  const idle = arg("--idle")?.split(",").map(Number);
  if (idle) sizes.idle = idle;
  const usage = `usage: bun bench/run.ts [--runs N] [--only ${SCENARIOS.join(",")}] [--targets server,null-relay,ngircd,inspircd] [--transports plain,tls] [--tls] [--tiny] [--idle 1000,5000] [--out file] [--no-save] [--profile dir]`;
  if (bad.length || !Number.isInteger(runs) || runs < 1 || transports.length === 0 || (idle && !idle.every((n) => Number.isInteger(n) && n > 0 && n <= 10_000))) {
    console.error(usage);
    process.exit(2);
  }
  const targets = arg("--targets")?.split(",") ?? ["server", "null-relay", "ngircd", "inspircd"];
  ensureIrcDaemons(targets, (l) => console.log(l));
  const before = machine();
  const started = new Date();
  const { results, notes } = await bench({
    runs,
    sizes,
    only,
    targets,
    transports,
    binDir: process.env.CHAT_BIN_DIR ?? ROOT,
    profileDir: arg("--profile"),
    log: (l) => console.log(l),
  });
  const after = machine();
  const gs = goals(results);
  const tables = transports.map((tr) => `${tr === "tls" ? "TLS" : "Plain TCP"}:\n\n${table(results, tr)}`);
  if (transports.length === 2) tables.push(`TLS ÷ plain, per server:\n\n${tlsTable(results)}`);
  console.log(`\nMedians of ${runs} run(s); ratios are ./server ÷ baseline from the same run, on the same transport.\n`);
  console.log(tables.join("\n\n"));
  console.log(`\n${goalsText(gs)}`);
  for (const n of notes) console.log(`note: ${n}`);
  if (!process.argv.includes("--no-save")) {
    const out = arg("--out") ?? join(ROOT, "bench", "results", `${started.toISOString().slice(0, 10)}.json`);
    mkdirSync(join(out, ".."), { recursive: true });
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    writeFileSync(
      out,
      JSON.stringify(
        { started: started.toISOString(), finished: new Date().toISOString(), version: pkg.version, runs, transports, machine: { ...before, loadavgAfter: after.loadavg }, notes, goals: gs, table: tables.join("\n\n"), results },
        null,
        1,
      ) + "\n",
    );
    console.log(`\nwrote ${out}`);
  }
  process.exit(0);
}
