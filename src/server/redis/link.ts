/**
 * One connection to Redis for the state stores, with the failure model of
 * docs/scaling.md: requests fail fast while Redis is away (no offline queue), each
 * command is raced against a timer (a frozen Redis answers nothing, ever, and Bun's
 * client has no command timeout), and the client reconnects on its own — when it
 * gives up (`onclose`), it is told to connect again every second.
 *
 * A failure to reach Redis is a RedisUnavailable: the hub answers the user that the
 * server is busy and keeps the connection. An error Redis itself answered (out of
 * memory, a wrong type) is a plain StoreError: storage_failure.
 */
import { RedisClient } from "bun";
import { StoreError } from "../store.ts";
import { runScript, type Script } from "./scripts.ts";

/** Redis did not answer (down, unreachable, frozen, or the connection dropped under the command). */
export class RedisUnavailable extends StoreError {}

export const COMMAND_TIMEOUT_MS = 2000;
/** How often a client that gave up reconnecting is told to try again. */
const REVIVE_MS = 1000;

export class RedisLink {
  readonly client: RedisClient;
  private closed = false;
  private revive: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly url: string,
    private readonly timeoutMs = COMMAND_TIMEOUT_MS,
  ) {
    this.client = new RedisClient(url, { enableOfflineQueue: false, autoReconnect: true, connectionTimeout: 5000 });
    this.client.onclose = () => this.scheduleRevive();
  }

  /** Connect now (the first command would too, but fails fast without an offline queue). */
  async open(): Promise<void> {
    await this.client.connect();
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** One command; RedisUnavailable if Redis does not answer in time or the connection is down. */
  command(command: string, args: string[]): Promise<unknown> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RedisUnavailable(`${command}: no answer from Redis in ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    let sent: Promise<unknown>;
    try {
      sent = this.client.send(command, args);
    } catch (e) {
      clearTimeout(timer);
      return Promise.reject(classify(command, e));
    }
    return Promise.race([sent, timeout]).then(
      (v) => {
        clearTimeout(timer);
        return v;
      },
      (e) => {
        clearTimeout(timer);
        if (!this.client.connected) this.scheduleRevive();
        throw classify(command, e);
      },
    );
  }

  script(script: Script, keys: string[], args: string[]): Promise<unknown> {
    return runScript({ send: (c, a) => this.command(c, a) }, script, keys, args);
  }

  close(): void {
    this.closed = true;
    if (this.revive) clearTimeout(this.revive);
    this.client.close();
  }

  private scheduleRevive(): void {
    if (this.closed || this.revive) return;
    this.revive = setTimeout(() => {
      this.revive = null;
      if (this.closed || this.client.connected) return;
      this.client.connect().catch(() => this.scheduleRevive());
    }, REVIVE_MS);
  }
}

/** Redis's own answer (NOSCRIPT passes through for runScript) or a lost connection. */
function classify(command: string, e: unknown): Error {
  if (e instanceof StoreError) return e;
  const err = e as { code?: string; message?: string };
  const message = err.message ?? String(e);
  if (message.startsWith("NOSCRIPT")) return e as Error;
  if (err.code === "ERR_REDIS_SERVER_ERROR") return new StoreError(`${command}: ${message}`);
  return new RedisUnavailable(`${command}: ${message}`);
}

/**
 * Can Redis at `url` be reached now? Resolves if it answers PING; rejects otherwise,
 * at once when the connection is refused (no retries), within ~5 s for a host that
 * does not answer. A malformed URL throws from the constructor (synchronously).
 */
export async function probeRedis(url: string): Promise<void> {
  const c = new RedisClient(url, { autoReconnect: false, connectionTimeout: 5000 });
  try {
    await c.connect();
    await c.send("PING", []);
  } finally {
    c.close();
  }
}
