/**
 * The durable store (store.ts) in Redis: offline mailboxes as streams (entry id
 * "<seq>-0"), block lists as sets. A message is `stored` only once MAILBOX_APPEND
 * answered: with `appendfsync always` it is on disk then.
 */
import type { BlockList, Mailbox, QueuedMessage, Store, StoredMessage } from "../store.ts";
import { StoreError } from "../store.ts";
import { keys } from "./keys.ts";
import type { RedisCommands } from "./scripts.ts";
import { MAILBOX_ACK, MAILBOX_APPEND } from "./scripts.ts";

/** No cap in the append itself: the rules check the count first (message-rules.ts). */
const NO_CAP = String(Number.MAX_SAFE_INTEGER);

export class RedisMailbox implements Mailbox {
  constructor(private readonly redis: RedisCommands) {}

  async put(to: string, msg: StoredMessage): Promise<number> {
    const m = JSON.stringify({ from: msg.from, text: msg.text, at: msg.at });
    const seq = Number(await this.redis.script(MAILBOX_APPEND, [keys.mailbox(to), keys.mailboxSeq(to)], [m, NO_CAP]));
    if (!(seq > 0)) throw new StoreError(`store message: unexpected reply ${seq}`);
    return seq;
  }

  async peek(to: string, afterSeq: number, limit: number): Promise<QueuedMessage[]> {
    const rows = await this.redis.command("XRANGE", [keys.mailbox(to), `(${afterSeq}-0`, "+", "COUNT", String(limit)]);
    if (!Array.isArray(rows)) return [];
    return rows.map(([id, fields]: [string, string[]]) => {
      const m = JSON.parse(fields[fields.indexOf("m") + 1]!) as StoredMessage;
      return { from: m.from, text: m.text, at: m.at, seq: Number(id.split("-")[0]) };
    });
  }

  async ack(to: string, upToSeq: number): Promise<void> {
    await this.redis.script(MAILBOX_ACK, [keys.mailbox(to)], [String(upToSeq)]);
  }

  async count(to: string): Promise<number> {
    return Number(await this.redis.command("XLEN", [keys.mailbox(to)]));
  }
}

export class RedisBlockList implements BlockList {
  constructor(private readonly redis: RedisCommands) {}

  async has(blocker: string, blocked: string): Promise<boolean> {
    return Number(await this.redis.command("SISMEMBER", [keys.blocks(blocker), blocked])) === 1;
  }
  async blockedBy(blocker: string): Promise<ReadonlySet<string>> {
    const members = await this.redis.command("SMEMBERS", [keys.blocks(blocker)]);
    return new Set(Array.isArray(members) ? (members as string[]) : []);
  }
  async add(blocker: string, blocked: string): Promise<boolean> {
    return Number(await this.redis.command("SADD", [keys.blocks(blocker), blocked])) === 1;
  }
  async remove(blocker: string, blocked: string): Promise<boolean> {
    return Number(await this.redis.command("SREM", [keys.blocks(blocker), blocked])) === 1;
  }
}

export function redisStore(redis: RedisCommands, close: () => void): Store {
  return { mailbox: new RedisMailbox(redis), blocks: new RedisBlockList(redis), close };
}
