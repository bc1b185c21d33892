/**
 * A private redis-server for a test: Debian's redis-server (installed by
 * scripts/ensure-redis.sh, which `npm test` runs) on 127.0.0.1, on a free port
 * chosen by the OS, in its own temporary folder, durable the way production runs it
 * (appendonly yes, appendfsync always, no RDB snapshots).
 *
 * Every process started here is ended by PID: `stop()` (SIGTERM, then SIGKILL after
 * a grace), `kill()` (SIGKILL at once: a crash), and `stopAllRedis()` (call it from
 * afterAll/afterEach) ends whatever is still running and removes the folders, even
 * when a test failed. A process-exit hook SIGKILLs anything left as a last resort.
 */
import { spawn, type Subprocess } from "bun";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./harness.ts";

export type RedisServer = {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** PID of the current process (changes with restart()). */
  readonly pid: number;
  /** Its --dir: the append-only files live in <dir>/appendonlydir. */
  readonly dir: string;
  /** Is the process running (not ended, not yet reaped)? */
  readonly running: boolean;
  /** SIGTERM (Redis flushes the AOF and exits), SIGKILL if still alive after the grace. */
  stop(): Promise<void>;
  /** SIGKILL: a crash. Whatever `appendfsync always` wrote stays in the AOF. */
  kill(): Promise<void>;
  /** End the process if it runs, start again on the same port with the same dir and AOF. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: a Redis that holds connections open but answers nothing. */
  freeze(): void;
  thaw(): void;
  /** The tail of redis-server's log, for error messages. */
  log(): string;
};

const STOP_GRACE_MS = 3000;
const READY_TIMEOUT_MS = 10_000;

const live = new Set<Subprocess>();
const dirs: string[] = [];

function requireRedisServer(): string {
  const bin = Bun.which("redis-server");
  if (!bin) {
    throw new Error(
      "redis-server is not installed: run `sh scripts/ensure-redis.sh` as root (npm test does), or apt-get install -y redis-server",
    );
  }
  return bin;
}

/** One PING over a fresh TCP connection: true when Redis answers +PONG. */
function pingOnce(port: number, ms = 500): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean, sock?: { end(): void }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock?.end();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), ms);
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(sock) {
          sock.write("PING\r\n");
        },
        data(sock, buf) {
          finish(buf.toString().startsWith("+PONG"), sock);
        },
        error: () => finish(false),
        close: () => finish(false),
        connectError: () => finish(false),
      },
    }).catch(() => finish(false));
  });
}

function tail(file: string, bytes = 2000): string {
  try {
    const s = readFileSync(file, "utf8");
    return s.slice(-bytes);
  } catch {
    return "(no log)";
  }
}

async function endProcess(p: Subprocess, signal: "SIGTERM" | "SIGKILL"): Promise<void> {
  if (p.exitCode === null && p.signalCode === null) {
    // A frozen process cannot act on SIGTERM: wake it first.
    try {
      process.kill(p.pid, "SIGCONT");
    } catch {}
    p.kill(signal);
    if (signal === "SIGTERM") {
      const timer = setTimeout(() => p.kill("SIGKILL"), STOP_GRACE_MS);
      await p.exited;
      clearTimeout(timer);
    }
  }
  await p.exited;
  live.delete(p);
}

/** Start redis-server on `port` in `dir`; resolves once it answers PING. */
async function launch(bin: string, port: number, dir: string): Promise<Subprocess> {
  const logFile = join(dir, "redis.log");
  // Arguments as production should run it (docs/scaling.md): every write fsynced
  // to the append-only file before the reply; no RDB snapshots.
  const p = spawn(
    [
      bin,
      "--port", String(port),
      "--bind", "127.0.0.1",
      "--dir", dir,
      "--save", "",
      "--appendonly", "yes",
      "--appendfsync", "always",
      "--daemonize", "no",
      "--logfile", logFile,
      // Lets a test make Redis slow on purpose (DEBUG SLEEP), from 127.0.0.1 only.
      "--enable-debug-command", "local",
    ],
    { stdin: "ignore", stdout: "ignore", stderr: "ignore" },
  );
  live.add(p);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (p.exitCode !== null || p.signalCode !== null) break;
    if (await pingOnce(port)) return p;
    await Bun.sleep(20);
  }
  await endProcess(p, "SIGKILL");
  throw new Error(`redis-server on port ${port} did not answer PING; its log:\n${tail(logFile)}`);
}

/** A private redis-server, ready (answers PING). End it with stop() or stopAllRedis(). */
export async function startRedis(): Promise<RedisServer> {
  const bin = requireRedisServer();
  const dir = mkdtempSync(join(tmpdir(), "chat-redis-"));
  dirs.push(dir);
  let port = 0;
  let proc: Subprocess | undefined;
  // Another process may take the free port between our check and Redis's bind: retry a few times.
  for (let attempt = 0; !proc; attempt++) {
    port = await freePort();
    try {
      proc = await launch(bin, port, dir);
    } catch (e) {
      if (attempt >= 2) throw e;
    }
  }
  let p: Subprocess = proc;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    get pid() {
      return p.pid;
    },
    get running() {
      return p.exitCode === null && p.signalCode === null;
    },
    stop: () => endProcess(p, "SIGTERM"),
    kill: () => endProcess(p, "SIGKILL"),
    async restart() {
      await endProcess(p, "SIGTERM");
      p = await launch(bin, port, dir);
    },
    freeze: () => void p.kill("SIGSTOP"),
    thaw: () => void p.kill("SIGCONT"),
    log: () => tail(join(dir, "redis.log")),
  };
}

/** End every redis-server started here and remove their folders (afterAll / afterEach). */
export async function stopAllRedis(): Promise<void> {
  await Promise.all([...live].map((p) => endProcess(p, "SIGTERM")));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

// Last resort if a test file forgot stopAllRedis() or the runner exits early.
process.on("exit", () => {
  for (const p of live) {
    try {
      process.kill(p.pid, "SIGCONT");
      p.kill("SIGKILL");
    } catch {}
  }
});
