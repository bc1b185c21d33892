/**
 * Parent side of a loadgen worker: spawn bench/loadgen.ts with an IPC channel,
 * send it jobs, await its answers with a deadline, end it by PID.
 */
import type { Subprocess } from "bun";
import { join } from "node:path";
import { spawnTracked, stopProcess } from "./proc.ts";

const LOADGEN = join(import.meta.dir, "..", "loadgen.ts");

export class Worker {
  private inbox: any[] = [];
  private wake: (() => void) | null = null;
  private exited = false;
  private stderr = "";
  readonly proc: Subprocess;

  constructor() {
    // BENCH_LOADGEN_PROFILE=<dir>: profile the loadgen too (bun --cpu-prof, .md summary).
    const prof = process.env.BENCH_LOADGEN_PROFILE;
    const cmd = prof ? [process.execPath, "--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${prof}`, LOADGEN] : [process.execPath, LOADGEN];
    this.proc = spawnTracked(cmd, {
      stderr: "pipe",
      ipc: (m) => {
        this.inbox.push(m);
        this.wake?.();
      },
    });
    void this.proc.exited.then(() => {
      this.exited = true;
      this.wake?.();
    });
    const stderr = this.proc.stderr as ReadableStream<Uint8Array>;
    void (async () => {
      for await (const c of stderr) {
        this.stderr = (this.stderr + new TextDecoder().decode(c)).slice(-4000);
      }
    })();
  }

  get pid(): number {
    return this.proc.pid;
  }

  send(msg: unknown): void {
    this.proc.send(msg);
  }

  /** The worker's next answer; throws on an error answer, an exit, or after ms. */
  async next<T = any>(ms: number): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.inbox.shift();
      if (m) {
        if (m.t === "error") throw new Error(`loadgen: ${m.message}`);
        return m as T;
      }
      if (this.exited) throw new Error(`loadgen exited (${this.proc.exitCode ?? this.proc.signalCode}) ${this.stderr.trim()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`loadgen gave no answer within ${ms} ms ${this.stderr.trim()}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          this.wake = null;
          r();
        };
      });
    }
  }

  /** Send a job and await its answer. */
  async run<T = any>(job: unknown, ms: number): Promise<T> {
    this.send(job);
    return this.next<T>(ms);
  }

  async stop(): Promise<void> {
    if (!this.exited) {
      try {
        this.proc.send({ t: "stop" });
      } catch {}
      const t = setTimeout(() => this.proc.kill("SIGKILL"), 3000);
      await this.proc.exited;
      clearTimeout(t);
    }
    await stopProcess(this.proc);
  }
}
