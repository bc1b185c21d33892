/**
 * What one logged-in idle connection costs the server's JS heap: starts the
 * server from source (bench/idle-heap-server.ts) as a child, logs N clients in,
 * and prints the heap's growth per connection, by object type (after a full GC).
 *
 *   bun bench/idle-heap.ts [N=2000]
 */
import { chatAdapter } from "./lib/chat-adapter.ts";
import type { BenchConn } from "./lib/adapter.ts";

const n = Number(process.argv[2] ?? 2000);
type Stats = { heapSize: number; heapCapacity: number; objectCount: number; types: Record<string, number>; rss: number };

const child = Bun.spawn([process.execPath, `${import.meta.dir}/idle-heap-server.ts`, String(n)], {
  stdio: ["ignore", "inherit", "inherit"],
  ipc: (m: any) => waiting.shift()?.(m),
});
const waiting: ((m: any) => void)[] = [];
const next = () => new Promise<any>((r) => waiting.push(r));
const ask = async (): Promise<Stats> => {
  const p = next();
  child.send("stats");
  return (await p).stats;
};

try {
  const { port } = await next();
  await Bun.sleep(200);
  const before = await ask();
  const conns: BenchConn[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = [];
    for (let k = i + 1; k <= Math.min(n, i + 50); k++) batch.push(chatAdapter.login(port, `u${k}`, `pw${k}`));
    conns.push(...(await Promise.all(batch)));
  }
  for (const c of conns) c.discard();
  await Bun.sleep(1500); // presence notices sent, lazy flushes done
  const after = await ask();
  const per = (k: keyof Stats) => ((after[k] as number) - (before[k] as number)) / n;
  console.log(`${n} idle logged-in connections, per connection:`);
  console.log(`  heapSize ${per("heapSize").toFixed(0)} B   heapCapacity ${per("heapCapacity").toFixed(0)} B   objects ${per("objectCount").toFixed(2)}   rss ${(per("rss") / 1024).toFixed(2)} KiB`);
  const rows = Object.keys({ ...before.types, ...after.types })
    .map((t) => [t, ((after.types[t] ?? 0) - (before.types[t] ?? 0)) / n] as const)
    .filter(([, d]) => Math.abs(d) >= 0.05)
    .sort((a, b) => b[1] - a[1]);
  for (const [t, d] of rows) console.log(`  ${d.toFixed(2).padStart(7)}  ${t}`);
  for (const c of conns) c.close();
} finally {
  child.send("exit");
  await child.exited;
}
