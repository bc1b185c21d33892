/**
 * RedisLink — the one owner of this node's connections to Redis.
 *
 *   const link = await RedisLink.open(url, { clock });   // throws RedisConnectFailed / RedisBadUrl
 *   await link.command("GET", ["k"]);                     // or throws RedisUnavailable
 *   await link.script(CLAIM_SESSION, [key], [holder, "", "0"]);
 *   await link.blocking("XREAD", [..."BLOCK", "1000", ...], 1000);  // its own connection
 *   link.onDown(() => ...); link.onUp(() => ...); link.up; link.upSince;
 *   link.close();
 *
 * Two connections (Bun's RedisClient): commands, auto-pipelined; and one for blocking
 * reads (XREAD BLOCK holds a whole connection). Both with `enableOfflineQueue: false`
 * (during an outage a command fails at once instead of waiting minutes) and retries
 * practically forever; while down, a retry loop also replaces any disconnected
 * client with a fresh one as soon as Redis answers (faster than Bun's backoff). Bun has no command timeout and a frozen Redis answers nothing
 * ever, so every command races a timer on the injected clock and fails with
 * RedisUnavailable when it fires.
 *
 * Up/down comes from what commands see (link-state.ts). While down, the link pings
 * every `retryMs` so it notices the way back by itself and fires onUp.
 * Not covered: TLS options beyond the URL (`rediss://`), Sentinel, Redis Cluster.
 */
import { RedisClient, type RedisOptions } from "bun";
import { systemClock, type Clock } from "../../common/clock.ts";
import { runScript, type Script } from "../redis/scripts.ts";
import { isOutage, RedisBadUrl, RedisConnectFailed, RedisUnavailable } from "./errors.ts";
import { LinkState } from "./link-state.ts";

export type LinkOptions = {
  clock?: Clock;
  /** A command unanswered this long fails with RedisUnavailable (default 2000). */
  commandTimeoutMs?: number;
  /** How long the first connection may take (a black-holed host; default 5000). */
  connectTimeoutMs?: number;
  /** While down: ping (and reconnect a client that gave up) this often (default 500). */
  retryMs?: number;
};

type Listener = () => void;

/** Bun retries a lost connection this many times (50 ms … 2 s apart) before giving up. */
const RETRIES = 1_000_000_000;

export class RedisLink {
  private readonly state: LinkState;
  private readonly upListeners = new Set<Listener>();
  private readonly downListeners = new Set<Listener>();
  private retryTimer: { cancel(): void } | null = null;
  private closed = false;

  private constructor(
    readonly url: string,
    private cmd: RedisClient,
    private reader: RedisClient,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly retryMs: number,
    private readonly connectTimeoutMs: number,
  ) {
    this.state = new LinkState(clock.now());
    this.watch(cmd);
    this.watch(reader);
  }

  /** Connect both connections, or fail fast with one clear error naming the URL. */
  static async open(url: string, opts: LinkOptions = {}): Promise<RedisLink> {
    const clock = opts.clock ?? systemClock;
    const connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    // A probe that does not retry: a refused port fails in < 1 ms instead of Bun's 31 s.
    const probe = makeClient(url, { autoReconnect: false, connectionTimeout: connectTimeoutMs });
    try {
      await withTimeout(probe.connect(), clock, connectTimeoutMs);
    } catch {
      throw new RedisConnectFailed(url);
    } finally {
      probe.close();
    }
    const cmd = makeClient(url, live(connectTimeoutMs));
    const reader = makeClient(url, live(connectTimeoutMs));
    try {
      await withTimeout(Promise.all([cmd.connect(), reader.connect()]), clock, connectTimeoutMs);
    } catch {
      cmd.close();
      reader.close();
      throw new RedisConnectFailed(url);
    }
    return new RedisLink(url, cmd, reader, clock, opts.commandTimeoutMs ?? 2000, opts.retryMs ?? 500, connectTimeoutMs);
  }

  get up(): boolean {
    return this.state.up;
  }
  /** When the current up period began (clock ms), null while down. */
  get upSince(): number | null {
    return this.state.upSince;
  }
  upFor(ms: number): boolean {
    return this.state.upFor(this.clock.now(), ms);
  }

  onUp(fn: Listener): () => void {
    this.upListeners.add(fn);
    return () => this.upListeners.delete(fn);
  }
  onDown(fn: Listener): () => void {
    this.downListeners.add(fn);
    return () => this.downListeners.delete(fn);
  }

  /** One command on the command connection. Rejects with RedisUnavailable on an outage. */
  command(name: string, args: string[]): Promise<unknown> {
    return this.guard(() => this.cmd.send(name, args), this.timeoutMs);
  }

  /** A Lua script (EVALSHA, EVAL on NOSCRIPT) on the command connection. */
  script(s: Script, keys: string[], args: string[]): Promise<unknown> {
    return runScript({ send: (name, a) => this.command(name, a) }, s, keys, args);
  }

  /**
   * A blocking command (XREAD BLOCK blockMs) on the reader connection, allowed
   * blockMs + the command timeout. On a timeout the reader connection is replaced: a
   * frozen Redis would otherwise queue every later read behind the stuck one.
   */
  async blocking(name: string, args: string[], blockMs: number): Promise<unknown> {
    const reader = this.reader;
    try {
      return await this.guard(() => reader.send(name, args), blockMs + this.timeoutMs);
    } catch (e) {
      if (e instanceof RedisUnavailable && e.reason === "timeout" && reader === this.reader && !this.closed) {
        this.replaceReader();
      }
      throw e;
    }
  }

  close(): void {
    this.closed = true;
    this.retryTimer?.cancel();
    this.retryTimer = null;
    this.cmd.close();
    this.reader.close();
  }

  private async guard(run: () => Promise<unknown>, ms: number): Promise<unknown> {
    if (this.closed) throw new RedisUnavailable("link closed");
    let result: unknown;
    try {
      // A client that gave up (or was never connected) throws or rejects at once.
      result = await withTimeout(new Promise<unknown>((r) => r(run())), this.clock, ms);
    } catch (e) {
      if (!isOutage(e)) {
        this.sawAnswer(); // An error reply is still an answer.
        throw e;
      }
      const reason = e instanceof RedisUnavailable ? e.reason : (e as Error).message;
      this.sawOutage();
      throw e instanceof RedisUnavailable ? e : new RedisUnavailable(reason);
    }
    this.sawAnswer();
    return result;
  }

  private sawAnswer(): void {
    if (this.state.answered(this.clock.now()) === "up") {
      this.retryTimer?.cancel();
      this.retryTimer = null;
      for (const fn of [...this.upListeners]) fn();
    }
  }

  private sawOutage(): void {
    if (this.state.failed(this.clock.now()) === "down") {
      this.scheduleRetry();
      for (const fn of [...this.downListeners]) fn();
    }
  }

  /** While down: every retryMs, reconnect what is disconnected and ping, until an answer. */
  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = this.clock.after(this.retryMs, () => {
      void this.revive().finally(() => {
        this.retryTimer = null;
        if (!this.state.up) this.scheduleRetry();
      });
    });
  }

  private async revive(): Promise<void> {
    if (this.closed || this.state.up) return;
    if (!this.cmd.connected) await this.reconnect("cmd");
    if (!this.reader.connected) await this.reconnect("reader");
    await this.command("PING", []).catch(() => {});
  }

  /**
   * A fresh connection instead of a disconnected one. Bun's own reconnection waits
   * out its backoff (up to 2 s between attempts, and connect() on a client that is
   * reconnecting waits for it too, measured), so a Redis back after an outage would
   * be seen up to 2 s late. A probe that does not retry tells at once whether Redis
   * is there; only then is the new client made.
   */
  private async reconnect(which: "cmd" | "reader"): Promise<void> {
    const probe = makeClient(this.url, { autoReconnect: false, connectionTimeout: this.connectTimeoutMs });
    try {
      await withTimeout(probe.connect(), this.clock, this.timeoutMs);
    } catch {
      return;
    } finally {
      probe.close();
    }
    const fresh = makeClient(this.url, live(this.connectTimeoutMs));
    try {
      await withTimeout(fresh.connect(), this.clock, this.timeoutMs);
    } catch {
      fresh.close();
      return;
    }
    if (this.closed) return void fresh.close();
    this.swap(which, fresh);
  }

  private replaceReader(): void {
    const fresh = makeClient(this.url, live(this.connectTimeoutMs));
    this.swap("reader", fresh);
    fresh.connect().catch(() => {});
  }

  private swap(which: "cmd" | "reader", fresh: RedisClient): void {
    const old = this[which];
    this[which] = fresh;
    this.watch(fresh);
    old.onclose = null;
    old.close();
  }

  /** Bun's hints: onclose fires only when a client gives up (or is closed). */
  private watch(client: RedisClient): void {
    client.onclose = () => {
      if (this.closed) return;
      this.sawOutage();
      this.scheduleRetry();
    };
  }
}

function live(connectionTimeout: number): RedisOptions {
  return { enableOfflineQueue: false, autoReconnect: true, maxRetries: RETRIES, connectionTimeout };
}

/** Bun's constructor throws synchronously on a malformed URL: a usage error. */
function makeClient(url: string, options: RedisOptions): RedisClient {
  try {
    return new RedisClient(url, options);
  } catch (e) {
    throw new RedisBadUrl(url, e instanceof Error ? e.message : String(e));
  }
}

/** The promise, or RedisUnavailable("timeout") when the clock says ms have passed. */
export function withTimeout<T>(p: Promise<T>, clock: Clock, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.after(ms, () => reject(new RedisUnavailable("timeout")));
    p.then(
      (v) => {
        timer.cancel();
        resolve(v);
      },
      (e) => {
        timer.cancel();
        reject(e);
      },
    );
  });
}
