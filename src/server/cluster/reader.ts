/**
 * StreamReader — the loop that reads this node's inbox and the cluster's events
 * with one `XREAD BLOCK` on the link's blocking connection (used by ClusterBus).
 *
 * It always names the last id it handed over (never `$`), so a read lost to a
 * dropped connection, a timeout or a Redis restart is simply issued again from the
 * same place: nothing skipped, nothing twice. Entries go to `deliver` in stream
 * order; after each batch the inbox is trimmed up to what was handed over (the
 * events stream is shared, capped by MAXLEN ~ on XADD instead). Failed reads are
 * retried after a growing delay (backoff.ts) so an outage does not spin the CPU.
 * One XREAD names two keys in different hash slots: on a Redis Cluster this becomes
 * one reader per shard (one XREAD per stream when they live on different shards).
 */
import type { Clock, Timer } from "../../common/clock.ts";
import { Backoff } from "./backoff.ts";
import { RedisUnavailable } from "./errors.ts";
import type { RedisLink } from "./link.ts";
import { idAfter, parseXRead, type BusEvent, type StreamEntry } from "./stream-entries.ts";

export type EventMeta = { from: string; stream: "inbox" | "events"; id: string };

export type ReaderSetup = {
  inbox: string;
  events: string;
  /** The events stream's last id when the node started: it reads what comes after. */
  eventsFrom: string;
  blockMs: number;
  /** Most entries per XREAD (default 500). */
  batch?: number;
  deliver(event: BusEvent, meta: EventMeta): void;
  error(what: string, e: unknown): void;
};

export class StreamReader {
  private inboxId = "0-0";
  private eventsId: string;
  private running = false;
  private readonly backoff = new Backoff();
  private nap: { timer: Timer; wake: () => void } | null = null;

  constructor(
    private readonly link: RedisLink,
    private readonly clock: Clock,
    private readonly s: ReaderSetup,
  ) {
    this.eventsId = s.eventsFrom;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  stop(): void {
    this.running = false;
    if (this.nap) {
      this.nap.timer.cancel();
      this.nap.wake();
    }
  }

  private async loop(): Promise<void> {
    const { inbox, events, blockMs } = this.s;
    const batch = String(this.s.batch ?? 500);
    while (this.running) {
      let reply: unknown;
      try {
        const args = ["COUNT", batch, "BLOCK", String(blockMs), "STREAMS", inbox, events, this.inboxId, this.eventsId];
        reply = await this.link.blocking("XREAD", args, blockMs);
        if (!this.running) return;
        this.handle(reply);
        this.backoff.reset();
      } catch (e) {
        if (!(e instanceof RedisUnavailable)) this.s.error("read", e);
        await this.sleep(this.backoff.delay());
      }
    }
  }

  private handle(reply: unknown): void {
    const streams = parseXRead(reply);
    const fromInbox = streams.get(this.s.inbox) ?? [];
    for (const entry of fromInbox) {
      this.inboxId = entry.id;
      this.hand(entry, "inbox");
    }
    for (const entry of streams.get(this.s.events) ?? []) {
      this.eventsId = entry.id;
      this.hand(entry, "events");
    }
    if (fromInbox.length > 0) {
      // Not awaited: the next read need not wait; a trim lost to an outage is redone by the next one.
      this.link.command("XTRIM", [this.s.inbox, "MINID", idAfter(this.inboxId)]).catch(() => {});
    }
  }

  private hand(entry: StreamEntry, stream: EventMeta["stream"]): void {
    try {
      this.s.deliver(entry.event, { from: entry.from, stream, id: entry.id });
    } catch (e) {
      // A handler's bug must not stop the bus nor make it read the entry again.
      this.s.error("event handler", e);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.nap = null;
        resolve();
      };
      this.nap = { timer: this.clock.after(ms, wake), wake };
    });
  }
}
