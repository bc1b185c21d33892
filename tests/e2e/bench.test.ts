/**
 * The bench must not rot: every scenario at a tiny size (a few clients, well under
 * a second each) against the compiled ./server and the null relay, plus ngIRCd and
 * InspIRCd when they are installed. Behaviour only — counts delivered, nothing
 * lost, every process ended — never timings.
 */
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { bench } from "../../bench/run.ts";
import { TINY } from "../../bench/scenarios.ts";
import { BIN_DIR } from "./harness.ts";

const irc = ["ngircd", "inspircd"].filter((b) => ["/usr/sbin", "/usr/bin"].some((d) => existsSync(join(d, b))));

type Results = Awaited<ReturnType<typeof bench>>["results"];

/** One scenario's figures for one column, failing with the bench's log when it failed. */
function figuresOf(results: Results, why: string, scenario: string, column: string) {
  const runs = results[scenario]?.[column];
  expect(runs, `${scenario} ${column}: ${why}`).toBeDefined();
  const r = runs![0];
  if (typeof r === "string") throw new Error(`${scenario} ${column} failed: ${r}\n${why}`);
  return r!;
}

/** idle, direct, broadcast and storm delivered everything for each of these columns. */
function checkCounts(results: Results, why: string, columns: string[]): void {
  const one = (scenario: string, column: string) => figuresOf(results, why, scenario, column);
  for (const t of columns) {
    const idle = one("idle", t);
    for (const n of TINY.idle) expect(idle[`held @${n}`], `${t} idle`).toBe(n);

    const direct = one("direct", t);
    expect(direct.lost, `${t} direct`).toBe(0);
    expect(direct["msgs/s"], `${t} direct`).toBeGreaterThan(0);

    const bc = one("broadcast", t);
    expect(bc.lost, `${t} broadcast`).toBe(0);
    expect(bc.delivered, `${t} broadcast`).toBe(TINY.broadcasts * (TINY.broadcastClients - 1));

    const storm = one("storm", t);
    expect(storm.logins, `${t} storm`).toBe(TINY.stormLogins);
  }
}

test(
  "every scenario runs at a tiny size and delivers everything",
  async () => {
    const lines: string[] = [];
    const { results, notes } = await bench({
      runs: 1,
      sizes: TINY,
      only: ["startup", "idle", "direct", "broadcast", "storm", "mailbox"],
      targets: ["server", "null-relay", ...irc],
      transports: ["plain"],
      binDir: BIN_DIR,
      log: (l) => lines.push(l),
    });
    const why = `bench log:\n${lines.join("\n")}\nnotes: ${notes.join("; ")}`;
    checkCounts(results, why, ["server", "null-relay", ...irc]);
    // Only our server keeps offline messages.
    expect(results.mailbox?.["null-relay"]?.[0]).toBeNull();
    const mb = figuresOf(results, why, "mailbox", "server");
    expect(mb["last shown s"]).toBeGreaterThan(0);
    expect(mb["left unacked"]).toBe(0);
    const st = figuresOf(results, why, "startup", "server");
    for (const k of ["client --version ms", "server --help ms", "hello-world ms", "hello-world + readline ms"]) expect(st[k]).toBeGreaterThan(0);
  },
  90_000,
);

test(
  "over TLS too: ./server, the null relay and the IRC daemons' TLS ports deliver everything at a tiny size",
  async () => {
    const lines: string[] = [];
    const { results, notes } = await bench({
      runs: 1,
      sizes: TINY,
      only: ["idle", "direct", "broadcast", "storm", "mailbox"],
      targets: ["server", "null-relay", ...irc],
      transports: ["tls"],
      binDir: BIN_DIR,
      log: (l) => lines.push(l),
    });
    const why = `bench log:\n${lines.join("\n")}\nnotes: ${notes.join("; ")}`;
    checkCounts(results, why, ["server+tls", "null-relay+tls", ...irc.map((t) => `${t}+tls`)]);
    // Nothing ran in plain TCP.
    expect(results.direct?.server).toBeUndefined();
    const mb = figuresOf(results, why, "mailbox", "server+tls");
    expect(mb["left unacked"]).toBe(0);
  },
  90_000,
);

test(
  "the transfer bench runs at a tiny size: the raw copies (plain, mutual TLS) and a verified download from 3 holders, bytes checked",
  async () => {
    const proc = Bun.spawn([process.execPath, join(import.meta.dir, "../../bench/transfer.ts"), "--mib", "6", "--runs", "1", "--chunks", "3"], {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, CHAT_BIN_DIR: BIN_DIR },
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(code, `${out}\n${err}`).toBe(0);
    // It checks the downloaded file's SHA-256 itself (and fails otherwise); here, that it got that far.
    expect(out).toMatch(/^run 1: raw [\d.]+ s, raw TLS [\d.]+ s, download [\d.]+ s \(from hans, luke, yoda\)/m);
    expect(out).toMatch(/^download \/ raw TLS throughput: [\d.]+/m);
    expect(out).toMatch(/^download \/ raw throughput: [\d.]+/m);
  },
  60_000,
);

test(
  "the client-receive bench runs at a tiny size: a real client shows every message, plain and TLS, and its CPU per message is reported",
  async () => {
    const proc = Bun.spawn([process.execPath, join(import.meta.dir, "../../bench/client-receive.ts"), "--messages", "300", "--runs", "1", "--window", "32"], {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, CHAT_BIN_DIR: BIN_DIR },
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    // It waits for all 300 lines (and fails otherwise); here, that it got that far over both transports.
    expect(code, `${out}\n${err}`).toBe(0);
    expect(out).toMatch(/^plain .*client: median [\d.]+ µs CPU\/message/m);
    expect(out).toMatch(/^tls {3}.*client: median [\d.]+ µs CPU\/message/m);
  },
  60_000,
);

test(
  "the storm-waves bench runs at a tiny size: CPU per login by thread, what a held wave still costs, and the engine's compiles counted",
  async () => {
    const args = ["--waves", "1", "--logins", "20", "--concurrency", "5", "--hold-ms", "200", "--jit-report", "--bin", join(BIN_DIR, "server")];
    const proc = Bun.spawn([process.execPath, join(import.meta.dir, "../../bench/storm-waves.ts"), ...args], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(code, `${out}\n${err}`).toBe(0);
    expect(out).toMatch(/^wave 1: 20 logins, \d+ logins\/s, server [\d.]+ µs CPU\/login; by thread: .*main [\d.]+/m);
    expect(out).toMatch(/^ {2}then, in 200 ms held: [\d.]+ µs CPU\/login/m);
    // The server was run with the engine's report on, and its lines were read and counted (20 logins compile some functions).
    const compiled = [...out.matchAll(/^ {2}compiled (?:in the wave|while held): (.*)$/gm)].map((m) => m[1]!);
    expect(compiled.length, out).toBe(2);
    const baseline = compiled.map((c) => Number(/Baseline (\d+)/.exec(c)?.[1] ?? 0));
    expect(baseline[0]! + baseline[1]!, out).toBeGreaterThan(0);
  },
  60_000,
);
