/**
 * The cluster bus (src/server/cluster/) against real redis-server processes
 * (tests/e2e/redis.ts, each test its own): several bus instances in this process are
 * the nodes, plus a node in a child process for crashes. Delivery to one node and to
 * all, order, Redis killed and restarted on the same AOF, a frozen Redis, up/down
 * events, a crashed node reported dead and reaped, a node fenced after being cut off,
 * fail-fast connect, command counting.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { spawn, type Subprocess } from "bun";
import { join } from "node:path";
import { ClusterBus, type BusEvent, type EventMeta, type StreamEntry } from "../../src/server/cluster/bus.ts";
import { RedisBadUrl, RedisConnectFailed, RedisUnavailable } from "../../src/server/cluster/errors.ts";
import { RedisLink } from "../../src/server/cluster/link.ts";
import { commandStats, resetCommandStats } from "../../src/server/cluster/stats.ts";
import { startRedis, stopAllRedis, type RedisServer } from "./redis.ts";
import { startTcpCut, type TcpCut } from "./tcp-cut.ts";

// Short times so a node's death is seen in about a second (production: 3 s / 10 s / 2 s / 10 s).
const TIMES = { beatMs: 100, ttlMs: 500, scanMs: 100, graceMs: 500, blockMs: 200 };
const LINK = { commandTimeoutMs: 500, retryMs: 100 };

let redis: RedisServer;
const links: RedisLink[] = [];
const buses: ClusterBus[] = [];
const children: Subprocess[] = [];
const relays: TcpCut[] = [];

beforeEach(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  for (const b of buses.splice(0)) b.halt();
  for (const l of links.splice(0)) l.close();
  for (const r of relays.splice(0)) r.close();
  for (const c of children.splice(0)) {
    try {
      process.kill(c.pid, "SIGCONT");
    } catch {}
    c.kill("SIGKILL");
    await c.exited;
  }
  await stopAllRedis();
});

async function link(): Promise<RedisLink> {
  const l = await RedisLink.open(redis.url, LINK);
  links.push(l);
  return l;
}

type Got = { event: BusEvent; meta: EventMeta }[];
async function node(): Promise<{ bus: ClusterBus; got: Got; link: RedisLink }> {
  const l = await link();
  const bus = await ClusterBus.start(l, TIMES);
  buses.push(bus);
  const got: Got = [];
  bus.onEvent((event, meta) => got.push({ event, meta }));
  return { bus, got, link: l };
}

/** Poll until cond() holds; fail naming `what` after ms (a bound, not a timing assertion). */
async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

const numbers = (got: Got, stream: EventMeta["stream"]) =>
  got.filter((g) => g.meta.stream === stream).map((g) => g.event.n as number);
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

describe("connecting", () => {
  test("nothing listening: fails at once with one line naming the URL", async () => {
    const url = `redis://127.0.0.1:${redis.port}`;
    await redis.stop();
    const t0 = Date.now();
    const err = await RedisLink.open(url).catch((e) => e);
    expect(err).toBeInstanceOf(RedisConnectFailed);
    expect(err.message).toBe(`Cannot reach Redis at ${url}`);
    // Bun's own default would retry for ~31 s; this is a bound, far above the ~1 ms it takes.
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  test("a malformed URL is a usage error, with the password hidden", async () => {
    const err = await RedisLink.open("http://bob:pw@127.0.0.1:1").catch((e) => e);
    expect(err).toBeInstanceOf(RedisBadUrl);
    expect(err.message).toStartWith("Invalid Redis URL http://bob:***@127.0.0.1:1: Expected url protocol");
  });
});

describe("delivery", () => {
  test("send reaches only the node named, publish reaches every node; each in order", async () => {
    const [a, b, c] = [await node(), await node(), await node()];
    expect(new Set([a.bus.nodeId, b.bus.nodeId, c.bus.nodeId]).size).toBe(3);
    for (const n of range(0, 50)) expect(await a.bus.send(b.bus.nodeId, { n })).toBe("sent");
    await Promise.all(range(0, 50).map((n) => c.bus.publish({ n })));
    await waitFor("b's inbox and everyone's events", () =>
      [a, b, c].every((x) => numbers(x.got, "events").length === 50) && numbers(b.got, "inbox").length === 50,
    );
    expect(numbers(b.got, "inbox")).toEqual(range(0, 50));
    expect(numbers(a.got, "inbox")).toEqual([]);
    expect(numbers(c.got, "inbox")).toEqual([]);
    for (const x of [a, b, c]) expect(numbers(x.got, "events")).toEqual(range(0, 50));
    expect(b.got.find((g) => g.meta.stream === "inbox")!.meta.from).toBe(a.bus.nodeId);
    expect(a.got.find((g) => g.meta.stream === "events")!.meta.from).toBe(c.bus.nodeId);
    // What b read is trimmed from its inbox (the trim follows each batch).
    const inbox = `tc:{n:${b.bus.nodeId}}:inbox`;
    await waitFor("b's inbox trimmed", async () => (await b.link.command("XLEN", [inbox])) === 0);
  });

  test("a node started later sees only what is published after it started, and an empty inbox", async () => {
    const a = await node();
    for (const n of range(0, 3)) await a.bus.publish({ n });
    const d = await node();
    await a.bus.publish({ n: 3 });
    await waitFor("d sees the new event", () => numbers(d.got, "events").length === 1);
    expect(numbers(d.got, "events")).toEqual([3]);
    expect(numbers(d.got, "inbox")).toEqual([]);
  });

  test("a full inbox refuses instead of trimming unread entries away", async () => {
    // The cap is applied by the sender (every node runs with the same settings).
    const a = await ClusterBus.start(await link(), { ...TIMES, inboxCap: 3 });
    buses.push(a);
    const b = await node();
    b.bus.halt(); // b reads nothing: its inbox fills up
    const answers = [];
    for (const n of range(0, 5)) answers.push(await a.send(b.bus.nodeId, { n }));
    expect(answers).toEqual(["sent", "sent", "sent", "full", "full"]);
  });
});

describe("Redis lost and back", () => {
  test("killed and restarted on the same AOF: events before and after arrive once each, in order; down then up", async () => {
    const [a, b] = [await node(), await node()];
    const seen: string[] = [];
    a.link.onDown(() => seen.push("down"));
    a.link.onUp(() => seen.push("up"));
    for (const n of range(0, 20)) await a.bus.send(b.bus.nodeId, { n });
    for (const n of range(0, 20)) await a.bus.publish({ n });
    await waitFor("the first 20 of each", () => numbers(b.got, "inbox").length === 20 && numbers(b.got, "events").length === 20);
    await redis.kill();
    // While Redis is gone, a command fails at once with RedisUnavailable: nothing queues up.
    expect(await a.bus.publish({ n: -1 }).catch((e) => e)).toBeInstanceOf(RedisUnavailable);
    expect(a.link.up).toBe(false);
    await redis.restart();
    await waitFor("a's link back up", () => a.link.up && b.link.up);
    for (const n of range(20, 40)) await a.bus.send(b.bus.nodeId, { n });
    for (const n of range(20, 40)) await a.bus.publish({ n });
    await waitFor("all 40 of each", () => numbers(b.got, "inbox").length >= 40 && numbers(b.got, "events").length >= 40);
    await Bun.sleep(300); // a duplicate would show up within a read or two
    expect(numbers(b.got, "inbox")).toEqual(range(0, 40));
    expect(numbers(b.got, "events")).toEqual(range(0, 40));
    expect(numbers(a.got, "events")).toEqual(range(0, 40));
    expect(seen).toEqual(["down", "up"]);
  });

  test("Redis down longer than the heartbeat ttl: a node back first waits (grace) for one back later", async () => {
    // b reaches Redis through a relay the test cuts, so b comes back a while after a.
    const relay = startTcpCut(redis.port);
    relays.push(relay);
    const opts = { ...TIMES, graceMs: 2000 };
    const a = { link: await link() };
    const bLink = await RedisLink.open(`redis://127.0.0.1:${relay.port}`, LINK);
    links.push(bLink);
    const [busA, busB] = [await ClusterBus.start(a.link, opts), await ClusterBus.start(bLink, opts)];
    buses.push(busA, busB);
    const verdicts: string[] = [];
    busA.onNodeDead((id) => verdicts.push(`a saw ${id === busB.nodeId ? "b" : id} dead`));
    busB.onFenced(() => verdicts.push("b fenced"));
    relay.cut();
    await redis.kill();
    await Bun.sleep(2 * TIMES.ttlMs); // every alive key expires meanwhile (the AOF keeps absolute expiry times)
    await redis.restart();
    await waitFor("a's link up", () => a.link.up);
    await Bun.sleep(opts.graceMs / 2); // b still cut off, its alive key gone: a must not judge yet
    relay.restore();
    await waitFor("b's link up", () => bLink.up);
    await waitFor("a past its grace", () => a.link.upFor(opts.graceMs));
    await Bun.sleep(5 * TIMES.scanMs); // scans run for real now
    expect(verdicts).toEqual([]);
    expect((await busA.liveNodes()).sort()).toEqual([busA.nodeId, busB.nodeId].sort());
  });

  test("a frozen Redis: commands fail with RedisUnavailable after the timeout, then it recovers by itself", async () => {
    const a = await node();
    const seen: string[] = [];
    a.link.onDown(() => seen.push("down"));
    a.link.onUp(() => seen.push("up"));
    redis.freeze();
    const err = (await a.link.command("GET", ["k"]).catch((e) => e)) as RedisUnavailable;
    expect(err).toBeInstanceOf(RedisUnavailable);
    expect(err.reason).toBe("timeout");
    expect(seen).toEqual(["down"]);
    redis.thaw();
    await waitFor("the link's own ping to see Redis again", () => a.link.up);
    expect(await a.link.command("SET", ["k", "v"])).toBe("OK");
    expect(seen).toEqual(["down", "up"]);
    await a.bus.publish({ n: 1 });
    await waitFor("the reader back too", () => numbers(a.got, "events").length === 1);
  });

  test("an error reply is an answer, not an outage", async () => {
    const a = await node();
    await a.link.command("SET", ["k", "v"]);
    const err = (await a.link.command("XLEN", ["k"]).catch((e) => e)) as Error;
    expect(err).not.toBeInstanceOf(RedisUnavailable);
    expect(err.message).toStartWith("WRONGTYPE");
    expect(a.link.up).toBe(true);
  });
});

/** A node in a child process (tests/e2e/fixtures/bus-node.ts); resolves with its id and output. */
async function childNode(): Promise<{ proc: Subprocess<"ignore", "pipe", "pipe">; id: string; out: string[] }> {
  const proc = spawn([process.execPath, join(import.meta.dir, "fixtures", "bus-node.ts"), redis.url], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  children.push(proc);
  const out: string[] = [];
  void (async () => {
    let buf = "";
    for await (const chunk of proc.stdout) {
      buf += new TextDecoder().decode(chunk);
      const lines = buf.split("\n");
      buf = lines.pop()!;
      out.push(...lines);
    }
  })();
  await waitFor("the child node's id", () => out.some((l) => l.startsWith("id ")));
  return { proc, id: out.find((l) => l.startsWith("id "))!.slice(3), out };
}

describe("node liveness", () => {
  test("a node killed with SIGKILL is reported dead by the others and reaped by exactly one", async () => {
    const [a, b] = [await node(), await node()];
    // c never scans in this test: it can only learn of the death from the reaper's announcement.
    const c = await ClusterBus.start(await link(), { ...TIMES, scanMs: 600_000 });
    buses.push(c);
    const child = await childNode();
    const dead: string[] = [];
    c.onNodeDead((id) => dead.push(`c saw ${id}`));
    const reaped: { by: string; id: string; unread: StreamEntry[] }[] = [];
    for (const x of [a, b]) {
      x.bus.onNodeDead((id) => dead.push(`${x.bus.nodeId} saw ${id}`));
      x.bus.onReap(async (id, unread) => void reaped.push({ by: x.bus.nodeId, id, unread }));
    }
    expect((await a.bus.liveNodes()).sort()).toEqual([a.bus.nodeId, b.bus.nodeId, c.nodeId, child.id].sort());
    expect(await a.bus.nodeStatus(child.id)).toBe("alive");
    child.proc.kill("SIGKILL");
    await child.proc.exited;
    // Sent after the crash but before the verdict: it waits in the inbox for the reaper.
    expect(await a.bus.send(child.id, { n: 7 })).toBe("sent");
    // Real time, short ttl: the production bound is 15 s; this must be well within it.
    await waitFor("the survivors to report the dead node", () => dead.length === 3, 15_000);
    await waitFor("the reap", () => reaped.length === 1);
    expect(dead.sort()).toEqual([`${a.bus.nodeId} saw ${child.id}`, `${b.bus.nodeId} saw ${child.id}`, `c saw ${child.id}`].sort());
    expect(reaped[0]!.id).toBe(child.id);
    expect(reaped[0]!.unread.map((e) => e.event)).toEqual([{ n: 7 }]);
    // The verdict is final: nothing more can be sent to it; its keys are gone; reported once only.
    expect(await b.bus.send(child.id, { n: 8 })).toBe("gone");
    expect(await b.bus.nodeStatus(child.id)).toBe("gone");
    expect(await b.bus.nodeStatus("never-was")).toBe("silent");
    await waitFor("it leaves tc:nodes", async () => !((await a.link.command("ZRANGE", ["tc:nodes", "0", "-1"])) as string[]).includes(child.id));
    await Bun.sleep(300);
    expect(dead.length).toBe(3);
    expect(reaped.length).toBe(1);
  });

  test("a node cut off long enough is fenced: when it comes back it is told, and stops", async () => {
    const a = await node();
    const child = await childNode();
    const dead: string[] = [];
    a.bus.onNodeDead((id) => dead.push(id));
    child.proc.kill("SIGSTOP");
    await waitFor("the frozen node declared dead", () => dead.includes(child.id), 15_000);
    process.kill(child.proc.pid, "SIGCONT");
    await waitFor("the child to learn it was fenced", () => child.out.includes("fenced"));
    expect(await child.proc.exited).toBe(0);
  });

  test("a node that leaves with stop() is reaped at once, its unread entries handed over", async () => {
    const [a, b] = [await node(), await node()];
    const reaped: StreamEntry[][] = [];
    a.bus.onReap(async (_id, unread) => void reaped.push(unread));
    b.bus.halt(); // b stops reading, so what a sends now stays unread
    expect(await a.bus.send(b.bus.nodeId, { n: 1 })).toBe("sent");
    await b.bus.stop();
    expect(await a.bus.send(b.bus.nodeId, { n: 2 })).toBe("gone");
    await waitFor("the reap", () => reaped.length === 1);
    expect(reaped[0]!.map((e) => e.event)).toEqual([{ n: 1 }]);
  });

  test("right after its own link came back, a node reaps nobody (grace), even though keys expired", async () => {
    const a = await node();
    // When the verdict comes, has a's link been up, unbroken, for the grace period?
    const verdicts: { id: string; afterGrace: boolean }[] = [];
    a.bus.onNodeDead((id) => verdicts.push({ id, afterGrace: a.link.upFor(TIMES.graceMs) }));
    // A node that registered and whose heartbeat is gone: a's scans see it as silent.
    await a.link.command("ZADD", ["tc:nodes", "1", "ghost"]);
    redis.freeze();
    await waitFor("a's link down", () => !a.link.up);
    redis.thaw();
    await waitFor("the ghost reported", () => verdicts.length > 0);
    expect(verdicts).toEqual([{ id: "ghost", afterGrace: true }]);
  });
});

test("INFO commandstats counts what the bus sent", async () => {
  const a = await node();
  a.bus.halt(); // no beats or reads in between
  await Bun.sleep(50);
  await resetCommandStats(a.link);
  for (const n of range(0, 10)) await a.bus.publish({ n });
  for (const n of range(0, 4)) await a.bus.send(a.bus.nodeId, { n });
  const stats = await commandStats(a.link);
  // Redis 7 also counts the commands a script runs: each send's EXISTS, XLEN and XADD.
  expect(stats.get("xadd")?.calls).toBe(10 + 4);
  expect(stats.get("exists")?.calls).toBe(4);
  expect(stats.get("xlen")?.calls).toBe(4);
  // A send is one script run (EVALSHA; the first use also counts a NOSCRIPT miss + EVAL).
  expect((stats.get("evalsha")?.calls ?? 0) + (stats.get("eval")?.calls ?? 0) - (stats.get("evalsha")?.failed ?? 0)).toBe(4);
});
