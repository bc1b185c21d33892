/**
 * The state contracts (tests/contract/contracts.ts) against the Redis
 * implementations, on a private redis-server; each case starts from an empty database.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ManualClock } from "../../src/common/clock.ts";
import { RedisLink, RedisUnavailable, probeRedis } from "../../src/server/redis/link.ts";
import { RedisFiles } from "../../src/server/redis/redis-files.ts";
import { RedisDirectory, RedisLockout, RedisTokens } from "../../src/server/redis/redis-state.ts";
import { RedisBlockList, RedisMailbox } from "../../src/server/redis/redis-store.ts";
import { blockListContract, directoryContract, fileIndexContract, LOCK_MS, lockoutContract, mailboxContract, tokenContract } from "../contract/contracts.ts";
import { startRedis, stopAllRedis, type RedisServer } from "./redis.ts";

let redis: RedisServer;
let link: RedisLink;
beforeAll(async () => {
  redis = await startRedis();
  link = new RedisLink(redis.url);
  await link.open();
});
afterAll(async () => {
  link.close();
  await stopAllRedis();
});

/** An empty database, then the implementation. */
const fresh =
  <T>(make: (l: RedisLink, clock: ManualClock) => T) =>
  async (clock: ManualClock): Promise<T> => {
    await link.command("FLUSHDB", []);
    return make(link, clock);
  };

mailboxContract("Redis", fresh((l) => new RedisMailbox(l)));
blockListContract("Redis", fresh((l) => new RedisBlockList(l)));
lockoutContract("Redis", fresh((l, clock) => new RedisLockout(l, clock, LOCK_MS)));
directoryContract("Redis", fresh((l) => new RedisDirectory(l)));
tokenContract("Redis", fresh((l, clock) => new RedisTokens(l, clock)));
fileIndexContract("Redis", fresh((l) => new RedisFiles(l)));

describe("Redis link", () => {
  test("a Redis that answers nothing: the command fails as RedisUnavailable after the timeout, and works again once it answers", async () => {
    const l = new RedisLink(redis.url, 200);
    await l.open();
    redis.freeze();
    try {
      const err = await l.command("GET", ["x"]).catch((e) => e);
      expect(err).toBeInstanceOf(RedisUnavailable);
      expect((err as Error).message).toContain("no answer from Redis in 200 ms");
    } finally {
      redis.thaw();
    }
    expect(await l.command("PING", [])).toBe("PONG");
    l.close();
  });

  test("probe: resolves for a running Redis, rejects at once when nothing listens", async () => {
    await probeRedis(redis.url);
    const other = await startRedis();
    const url = other.url;
    await other.stop();
    expect(await probeRedis(url).then(() => "reached", () => "refused")).toBe("refused");
  });
});
