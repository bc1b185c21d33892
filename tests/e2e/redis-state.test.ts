/**
 * The state contracts (tests/contract/contracts.ts) against the Redis
 * implementations, on a private redis-server; each case starts from an empty database.
 */
import { afterAll, beforeAll } from "bun:test";
import type { ManualClock } from "../../src/common/clock.ts";
import { RedisLink } from "../../src/server/cluster/link.ts";
import { RedisFiles } from "../../src/server/redis/redis-files.ts";
import { RedisDirectory, RedisLockout, RedisTokens } from "../../src/server/redis/redis-state.ts";
import { RedisBlockList, RedisMailbox } from "../../src/server/redis/redis-store.ts";
import { blockListContract, directoryContract, fileIndexContract, LOCK_MS, lockoutContract, mailboxContract, tokenContract } from "../contract/contracts.ts";
import { startRedis, stopAllRedis, type RedisServer } from "./redis.ts";

let redis: RedisServer;
let link: RedisLink;
beforeAll(async () => {
  redis = await startRedis();
  link = await RedisLink.open(redis.url);
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
