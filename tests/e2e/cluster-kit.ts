/**
 * A cluster for end-to-end tests: one private redis-server (redis.ts) and several
 * ./server processes sharing it (--redis), each on its own port. Clients log in to
 * whichever node a test names. Everything is ended by PID by cleanup() and stopAllRedis().
 */
import { join } from "node:path";
import { startServer, tempDir, type ServerProc } from "./harness.ts";
import { startRedis, type RedisServer } from "./redis.ts";

export type Cluster = { redis: RedisServer; nodes: ServerProc[] };

/** Heartbeat times short enough for tests: a killed server is judged dead in about 2 s. */
export const TEST_TIMES = "beatMs=200,ttlMs=1500,scanMs=300,graceMs=1000";

export async function startCluster(n: number, opts: { block?: number; timeout?: number; extra?: string[]; times?: string } = {}): Promise<Cluster> {
  const redis = await startRedis();
  const nodes: ServerProc[] = [];
  const env = { CHAT_CLUSTER_TIMES: opts.times ?? TEST_TIMES };
  // One identity for every node (made by the first): clients pin one server, whichever node answers.
  const identity = join(tempDir("chat-cluster-"), "server-identity.pem");
  const extra = ["--redis", redis.url, "--identity", identity, ...(opts.extra ?? [])];
  for (let i = 0; i < n; i++) nodes.push(await startServer({ ...opts, env, extra }));
  return { redis, nodes };
}
