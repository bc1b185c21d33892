/**
 * The two ways Redis can fail the cluster, as error classes the hub can tell apart:
 *
 * - `RedisUnavailable` — a command could not get an answer (connection closed or
 *   refused, Redis frozen past the command timeout, Redis loading its data). Nothing
 *   is known about whether a write ran. The hub answers the user
 *   `Error. Server busy, please try again later` and keeps the connection.
 * - `RedisConnectFailed` — the first connection at start failed; its message is the
 *   one line the server prints before exiting 1 (`Cannot reach Redis at <url>`).
 *
 * - `RedisBadUrl` — the URL given is not one Bun's client accepts (a usage error).
 *
 * Any other error from a command (a Redis error reply such as WRONGTYPE, a script's
 * error) is a bug, not an outage, and is passed through unchanged.
 */

export class RedisUnavailable extends Error {
  override readonly name = "RedisUnavailable";
  constructor(readonly reason: string) {
    super(`Redis unavailable: ${reason}`);
  }
}

export class RedisConnectFailed extends Error {
  override readonly name = "RedisConnectFailed";
  constructor(readonly url: string) {
    super(`Cannot reach Redis at ${redactUrl(url)}`);
  }
}

/** The URL as it may be printed: a password in it is replaced by `***`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/)([^@/]*)@/i, (_m, scheme: string, auth: string) => {
    const colon = auth.indexOf(":");
    return colon < 0 ? `${scheme}***@` : `${scheme}${auth.slice(0, colon)}:***@`;
  });
}

/**
 * Error replies that mean "Redis cannot serve now" rather than "this command is
 * wrong": loading its AOF after a restart, a script running too long, a replica
 * without its master, out of memory with noeviction.
 */
const OUTAGE_REPLIES = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|OOM|READONLY)\b/;

/**
 * Does this rejection of Bun's RedisClient mean an outage? Bun rejects with code
 * ERR_REDIS_SERVER_ERROR for Redis's own error replies; every other code
 * (ERR_REDIS_CONNECTION_CLOSED "Connection is closed and offline queue is disabled",
 * "Connection closed", "Connection has failed", ...) means no answer came.
 */
export function isOutage(e: unknown): boolean {
  if (e instanceof RedisUnavailable) return true;
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (code === "ERR_REDIS_SERVER_ERROR") return OUTAGE_REPLIES.test(e.message);
  return typeof code === "string" && code.startsWith("ERR_REDIS");
}

export class RedisBadUrl extends Error {
  override readonly name = "RedisBadUrl";
  constructor(url: string, reason: string) {
    super(`Invalid Redis URL ${redactUrl(url)}: ${reason}`);
  }
}
