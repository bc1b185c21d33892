/**
 * ClusterBus — what one server (a "node") of the cluster says to the others, on Redis.
 *
 *   const link = await RedisLink.open(url);            // exits 1 on RedisConnectFailed
 *   const bus = await ClusterBus.start(link, { logger });
 *   bus.nodeId                                          // random, 16 hex digits; holders say "<nodeId>|<sid>|<since>"
 *   bus.onEvent((event, meta) => ...);                  // meta: { from, stream: "inbox" | "events", id }
 *   await bus.send(otherNodeId, { t: "msg", ... });     // → "sent" | "gone" | "full"
 *   await bus.publish({ t: "login", user });            // every node, this one included
 *   await bus.nodeStatus(id);                           // "alive" | "silent" | "gone" (a login's stale holder)
 *   bus.onNodeDead((id) => ...);                        // once per dead node, on every node
 *   bus.onReap(async (id, unread) => ...);              // on ONE node: release id's sessions, store unread
 *   bus.onFenced(() => ...);                            // the others declared THIS node dead
 *   await bus.stop();                                   // leave: the others reap this node at once
 *
 * Events are the hub's own JSON objects; `t: "$bus.dead"` on tc:events is reserved.
 * Every call that touches Redis may reject with RedisUnavailable (→ "Server busy").
 *
 * Guarantees (Redis keeping its data: appendonly yes, appendfsync always):
 * - An event whose send()/publish() resolved is handed to onEvent exactly once by
 *   every running reader, in stream order, across Redis restarts and lost connections
 *   (XREAD is re-issued from the last id handed over). A send/publish that rejected
 *   may or may not have been appended (outcome unknown); if it was, it is delivered.
 * - send() to a node that dies: "sent" entries not yet read are given to the reaper's
 *   onReap (an entry read but not yet trimmed when the node died is given again: at
 *   least once there). After the node is fenced, send() answers "gone".
 * - publish() goes to `tc:events`, capped with MAXLEN ~ eventsMaxLen: a reader that
 *   falls further behind than that loses the oldest. A new node reads from the
 *   stream's end at start; a restarted server is a new node with a new id and an
 *   empty inbox.
 */
import { randomBytes } from "node:crypto";
import { systemClock, type Clock } from "../../common/clock.ts";
import { silentLogger, type Logger } from "../../common/logger.ts";
import { keys } from "../redis/keys.ts";
import { NodeWatch, type WatchTimes } from "./heartbeat.ts";
import type { RedisLink } from "./link.ts";
import { LEAVE, nodeKeys, SEND } from "./node-scripts.ts";
import { StreamReader, type EventMeta } from "./reader.ts";
import { Batcher } from "./batcher.ts";
import { batchFields, parseRange, type BusEvent, type StreamEntry } from "./stream-entries.ts";

export type { BusEvent, StreamEntry, EventMeta };

export type BusOptions = Partial<WatchTimes> & {
  clock?: Clock;
  logger?: Logger;
  /** Default: 8 random bytes, hex. */
  nodeId?: string;
  /** XREAD BLOCK per call (default 1000 ms; re-issued at once). */
  blockMs?: number;
  /**
   * Most unread entries one inbox may hold before send() answers "full" (default
   * 100 000). Checked by the sender: give every node the same value.
   */
  inboxCap?: number;
  /** tc:events is kept at about this many entries (MAXLEN ~, default 100 000). */
  eventsMaxLen?: number;
};

export const DEFAULT_TIMES: WatchTimes = {
  beatMs: 3000,
  ttlMs: 10_000,
  scanMs: 2000,
  graceMs: 10_000,
  reapLockMs: 30_000,
  fenceMs: 24 * 3600_000,
};

type EventFn = (event: BusEvent, meta: EventMeta) => void;

/** The bus's own events on tc:events (never shown to onEvent): "node X is fenced". */
const DEAD_NOTICE = "$bus.dead";

export class ClusterBus {
  private readonly eventFns: EventFn[] = [];
  private readonly deadFns: ((id: string) => void)[] = [];
  private readonly reapFns: ((id: string, unread: StreamEntry[]) => Promise<void>)[] = [];
  private readonly fencedFns: (() => void)[] = [];
  private watch!: NodeWatch;
  private reader!: StreamReader;
  /** What one turn sends to one node: one SEND script run (one stream entry). */
  private readonly sends = new Batcher<BusEvent, unknown>((node, events) => this.sendNow(node, events));
  /** What one turn publishes: one XADD on tc:events. */
  private readonly publishes = new Batcher<BusEvent, unknown>((_, events) => this.publishNow(events));

  private constructor(
    private readonly link: RedisLink,
    readonly nodeId: string,
    private readonly times: WatchTimes,
    private readonly opts: BusOptions,
  ) {}

  /** Register this node (first heartbeat) and start reading its inbox and the events. */
  static async start(link: RedisLink, opts: BusOptions = {}): Promise<ClusterBus> {
    const times = { ...DEFAULT_TIMES, ...definedOnly(opts) };
    const bus = new ClusterBus(link, opts.nodeId ?? randomBytes(8).toString("hex"), times, opts);
    await bus.begin();
    return bus;
  }

  onEvent(fn: EventFn): void {
    this.eventFns.push(fn);
  }
  onNodeDead(fn: (id: string) => void): void {
    this.deadFns.push(fn);
  }
  onReap(fn: (id: string, unread: StreamEntry[]) => Promise<void>): void {
    this.reapFns.push(fn);
  }
  onFenced(fn: () => void): void {
    this.fencedFns.push(fn);
  }

  /**
   * An event for one node only. "gone": that node is dead or left (store instead).
   * Events sent to the same node in one event-loop turn go out together as one
   * stream entry, in call order, and share one outcome.
   */
  send(nodeId: string, event: BusEvent): Promise<"sent" | "gone" | "full"> {
    return this.sends.add(nodeId, event).then((reply) => (reply === "gone" || reply === "full" ? reply : "sent"));
  }

  /** An event for every node (this one too: meta.from tells). Batched per turn like send(). */
  async publish(event: BusEvent): Promise<void> {
    await this.publishes.add("", event);
  }

  private sendNow(nodeId: string, events: BusEvent[]): Promise<unknown> {
    const k = nodeKeys(nodeId);
    const cap = String(this.opts.inboxCap ?? 100_000);
    return this.link.script(SEND, [k.gone, k.inbox], [cap, ...batchFields(this.nodeId, events)]);
  }

  private publishNow(events: BusEvent[]): Promise<unknown> {
    const max = String(this.opts.eventsMaxLen ?? 100_000);
    return this.link.command("XADD", [keys.events(), "MAXLEN", "~", max, "*", ...batchFields(this.nodeId, events)]);
  }

  /** The nodes registered now whose heartbeat is current (this one included). */
  async liveNodes(): Promise<string[]> {
    const ids = (await this.link.command("ZRANGE", [keys.nodes(), "0", "-1"])) as string[];
    const exists = await Promise.all(ids.map((id) => this.link.command("EXISTS", [nodeKeys(id).alive])));
    return ids.filter((_, i) => exists[i] === 1);
  }

  /**
   * Where a node stands: "alive" (heartbeat current), "gone" (fenced: dead or left;
   * its sessions are or will be released by its reaper, so a login may take them over
   * with CLAIM_SESSION naming the stale holder), "silent" (heartbeat expired, not yet
   * judged: wait, it may be back).
   */
  async nodeStatus(nodeId: string): Promise<"alive" | "silent" | "gone"> {
    const k = nodeKeys(nodeId);
    const [gone, alive] = await Promise.all([this.link.command("EXISTS", [k.gone]), this.link.command("EXISTS", [k.alive])]);
    return gone === 1 ? "gone" : alive === 1 ? "alive" : "silent";
  }

  /** Leave on purpose: fence this node, so the others reap it at their next scan. */
  async stop(): Promise<void> {
    this.halt();
    const k = nodeKeys(this.nodeId);
    await this.link.script(LEAVE, [k.alive, k.gone], [String(this.times.fenceMs)]);
  }

  /** Stop beating and reading without telling Redis (after being fenced; a crash looks alike). */
  halt(): void {
    this.watch.stop();
    this.reader.stop();
  }

  private async begin(): Promise<void> {
    const clock = this.opts.clock ?? systemClock;
    const log = this.opts.logger ?? silentLogger;
    const error = (what: string, e: unknown) => log.debug(`cluster bus ${what}: ${e instanceof Error ? e.message : e}`);
    this.watch = new NodeWatch(this.link, clock, this.nodeId, this.times, {
      dead: (id) => this.deadFns.forEach((fn) => fn(id)),
      announce: (id) => this.publish({ t: DEAD_NOTICE, node: id }),
      reap: (id) => this.reap(id),
      fenced: () => {
        this.reader.stop();
        this.fencedFns.forEach((fn) => fn());
      },
      error,
    });
    const last = (await this.link.command("XREVRANGE", [keys.events(), "+", "-", "COUNT", "1"])) as unknown[];
    const eventsFrom = parseRange(last)[0]?.id ?? "0-0";
    this.reader = new StreamReader(this.link, clock, {
      inbox: nodeKeys(this.nodeId).inbox,
      events: keys.events(),
      eventsFrom,
      blockMs: this.opts.blockMs ?? 1000,
      deliver: (event, meta) => {
        if (event.t === DEAD_NOTICE && meta.stream === "events") return this.watch.heard(String(event.node));
        this.eventFns.forEach((fn) => fn(event, meta));
      },
      error,
    });
    await this.watch.start();
    this.reader.start();
  }

  private async reap(id: string): Promise<void> {
    const unread = parseRange(await this.link.command("XRANGE", [nodeKeys(id).inbox, "-", "+"]));
    for (const fn of this.reapFns) await fn(id, unread);
  }
}

function definedOnly(o: Partial<WatchTimes>): Partial<WatchTimes> {
  const out: Partial<WatchTimes> = {};
  for (const k of Object.keys(DEFAULT_TIMES) as (keyof WatchTimes)[]) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
