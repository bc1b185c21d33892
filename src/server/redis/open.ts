/**
 * `--redis <url>`: everything the hub shares with the other servers of a cluster,
 * in one Redis. Each server is a node with a random id (its sessions are named by it
 * in the directory).
 */
import { RedisClient } from "bun";
import { randomBytes } from "node:crypto";
import type { Clock } from "../../common/clock.ts";
import type { SharedState } from "../state.ts";
import type { Store } from "../store.ts";
import { probeRedis, RedisLink } from "./link.ts";
import { RedisFiles } from "./redis-files.ts";
import { RedisDirectory, RedisLockout, RedisTokens } from "./redis-state.ts";
import { redisStore } from "./redis-store.ts";

export type RedisState = { node: string; store: Store; shared: SharedState; link: RedisLink };

/** The URL as it may be shown (a password in it is hidden). */
export function shownUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/)([^@/]*)@/i, (_, scheme: string, auth: string) => `${scheme}${auth.includes(":") ? auth.split(":")[0] + ":***" : "***"}@`);
}

export class RedisUrlError extends Error {}
export class RedisUnreachable extends Error {}

/**
 * Connect (probe first: one attempt, so an unreachable Redis is reported at once
 * rather than after the client's 31 s of retries). Throws RedisUrlError for a URL
 * Bun's client refuses, RedisUnreachable when nothing answers.
 */
export async function openRedisState(url: string, clock: Clock, blockMs: number): Promise<RedisState> {
  try {
    // Bun's client checks the URL in its constructor (synchronously) and connects later.
    new RedisClient(url, { autoReconnect: false }).close();
  } catch (e) {
    throw new RedisUrlError(`bad Redis URL ${shownUrl(url)}: ${(e as Error).message}`);
  }
  try {
    await probeRedis(url);
  } catch {
    // Bun's error never says why (refused, DNS, timeout): the URL is what helps.
    throw new RedisUnreachable(`cannot reach Redis at ${shownUrl(url)}`);
  }
  const link = new RedisLink(url);
  await link.open();
  const node = randomBytes(8).toString("hex");
  const shared: SharedState = {
    lockout: new RedisLockout(link, clock, blockMs),
    directory: new RedisDirectory(link),
    tokens: new RedisTokens(link, clock),
    files: new RedisFiles(link),
  };
  return { node, store: redisStore(link), shared, link };
}
