/**
 * Client start to `Username:` with TLS and without: ./client against a local
 * ./server (TLS, its server known from an earlier run) and against one started with
 * --no-tls (the client with --no-tls), 15 runs each, interleaved; prints medians.
 * Measures what a user waits for: process start, connect, TLS handshake and the
 * trust check, the version handshake, the prompt.
 *
 *   bun bench/startup-tls.ts [--runs 15]
 *
 * Uses the compiled programs (CHAT_BIN_DIR or the project root).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

const ROOT = join(import.meta.dir, "..");
const BIN = process.env.CHAT_BIN_DIR ?? ROOT;
const i = process.argv.indexOf("--runs");
const RUNS = i > 0 ? Number(process.argv[i + 1]) : 15;
const work = mkdtempSync(join(tmpdir(), "startup-tls-"));
const procs: Subprocess[] = [];

async function server(extra: string[]): Promise<number> {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  const p = Bun.spawn(
    [join(BIN, "server"), String(port), "60", "3600", "--host", "127.0.0.1", "--credentials", join(ROOT, "credentials.txt"), "--store", ":memory:", "--identity", join(work, "id.pem"), ...extra],
    { stdout: "pipe", stderr: "ignore", cwd: work },
  );
  procs.push(p);
  const reader = p.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) text += new TextDecoder().decode((await reader.read()).value);
  return port;
}

/** ms from spawn to the `Username:` prompt on stdout. */
async function toPrompt(port: number, extra: string[]): Promise<number> {
  const t0 = performance.now();
  const p = Bun.spawn([join(BIN, "client"), "127.0.0.1", String(port), ...extra], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "ignore",
    cwd: work,
    env: { ...process.env, HOME: work, XDG_CONFIG_HOME: join(work, ".config"), NO_COLOR: "1" },
  });
  const reader = p.stdout.getReader();
  let text = "";
  while (!text.includes("Username:")) {
    const r = await reader.read();
    if (r.done) throw new Error(`client ended before the prompt: ${text}`);
    text += new TextDecoder().decode(r.value);
  }
  const ms = performance.now() - t0;
  p.kill();
  await p.exited;
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  const tlsPort = await server([]);
  const plainPort = await server(["--no-tls"]);
  await toPrompt(tlsPort, []); // remembers the server: later runs are the usual, known case
  await toPrompt(plainPort, ["--no-tls"]);
  const tls: number[] = [];
  const plain: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    tls.push(await toPrompt(tlsPort, []));
    plain.push(await toPrompt(plainPort, ["--no-tls"]));
  }
  console.log(`client start to Username:, median of ${RUNS}: TLS ${median(tls).toFixed(1)} ms, no TLS ${median(plain).toFixed(1)} ms`);
  // Runs are interleaved (TLS, then plain), so each pair shares the machine's state.
  const pairs = median(tls.map((t, k) => t / plain[k]!));
  console.log(`TLS ÷ no TLS: ${(median(tls) / median(plain)).toFixed(2)} (medians), ${pairs.toFixed(2)} (median of the pairs); goal ≤ 1.3`);
  console.log(`runs: TLS ${tls.map((x) => x.toFixed(1)).join(", ")} ms; no TLS ${plain.map((x) => x.toFixed(1)).join(", ")} ms`);
} finally {
  for (const p of procs) p.kill();
  await Promise.all(procs.map((p) => p.exited));
  rmSync(work, { recursive: true, force: true });
}
