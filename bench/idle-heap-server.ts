/**
 * The server from source, for bench/idle-heap.ts: a ChatServer (plain TCP, memory
 * store) whose JS heap the parent asks about over IPC. Not a program anyone runs.
 */
import { heapStats } from "bun:jsc";
import { systemClock } from "../src/common/clock.ts";
import { silentLogger } from "../src/common/logger.ts";
import { ChatServer } from "../src/server/server.ts";
import { DEFAULT_LIMITS } from "../src/server/hub.ts";
import { memoryStore } from "../src/server/store.ts";

const users = new Map<string, string>();
const n = Number(process.argv[2] ?? 1000);
for (let i = 1; i <= n; i++) users.set(`u${i}`, `pw${i}`);
const server = new ChatServer({
  host: "127.0.0.1",
  port: 0,
  users,
  store: memoryStore(),
  clock: systemClock,
  log: silentLogger,
  hub: { blockMs: 60_000, timeoutMs: 3_600_000, ...DEFAULT_LIMITS, preLoginMs: 60_000 },
  admission: { perAddress: 100_000, total: 100_000 },
});
const port = server.start();

function stats() {
  Bun.gc(true);
  Bun.gc(true);
  const h = heapStats();
  const m = process.memoryUsage();
  return { heapSize: h.heapSize, heapCapacity: h.heapCapacity, objectCount: h.objectCount, types: h.objectTypeCounts, rss: m.rss };
}

process.on("message", (msg: any) => {
  if (msg === "stats") process.send!({ stats: stats() });
  if (msg === "exit") process.exit(0);
});
process.send!({ port });
