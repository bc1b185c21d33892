/**
 * Starting and reaping the protocol-level file holders of files-fake.ts, each in its
 * own process (so a test can SIGKILL one mid-transfer). Used by the file-sharing e2e tests.
 */
import type { Subprocess } from "bun";
import { join } from "node:path";
import { Lines, ROOT } from "./harness.ts";

export type FakeMode = "liar" | "stall" | "slow" | "bigger" | "overflow";

const fakes = new Set<Subprocess>();

/** Start a fake holder of `file` logged in as `user`; resolves once it registered the file. */
export async function startFake(port: number, user: string, file: string, mode: FakeMode, chunks = 10): Promise<{ proc: Subprocess; out: Lines }> {
  const proc = Bun.spawn([process.execPath, join(ROOT, "tests/e2e/files-fake.ts"), String(port), user, file, mode, String(chunks)], {
    stdin: "ignore", stdout: "pipe", stderr: "inherit", cwd: ROOT,
  });
  fakes.add(proc);
  const out = new Lines(proc.stdout);
  await out.waitFor("ready", 10_000);
  return { proc, out };
}

/** Kill every fake holder still running and wait for them (call in afterEach). */
export async function killFakes(): Promise<void> {
  for (const p of fakes) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  await Promise.all([...fakes].map((p) => p.exited));
  fakes.clear();
}
