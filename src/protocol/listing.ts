/**
 * Replies whose lists may not fit one frame (behaviour.md §8: every reply fits the frame
 * limit whatever the number of users, files or holders). A long listing goes out as
 * several `reply` messages with the same `id`; all but the last carry `more: true`.
 * The first part carries every field; later parts only `t`, `id`, `code`, `more` and
 * their slice of the lists. The receiver concatenates the lists, in order.
 *
 * Lists cut this way: `users`, and `maps` in step with it (maps[i] belongs to
 * users[i], so a pair is never split across parts). Sizes are counted in UTF-8
 * bytes of the JSON body, the unit the frame limit is in. Pure: no I/O.
 */
import type { ServerMsg } from "./messages.ts";

export type ReplyMsg = Extract<ServerMsg, { t: "reply" }>;

/** The lists a reply may spread over several parts; maps runs in step with users. */
const LISTS = ["users", "maps"] as const;

const utf8 = new TextEncoder();
const jsonBytes = (v: unknown): number => utf8.encode(JSON.stringify(v)).byteLength;

export type SplitReply = {
  /** The parts, in order; each encodes to at most maxBytes of JSON. */
  parts: ReplyMsg[];
  /** Indexes of list items that could not fit even a part of their own (left out). */
  dropped: number[];
};

/**
 * Cut `reply` into parts whose JSON is at most `maxBytes` bytes of UTF-8 each
 * (a frame body: the frame limit minus its kind byte). A reply that fits is
 * returned as it is. Each part but the last is filled as far as the limit allows.
 * An item too big for a part of its own is left out and reported in `dropped`
 * (a user name of thousands of escaped control characters; nothing a client makes).
 */
export function splitReply(reply: ReplyMsg, maxBytes: number): SplitReply {
  if (jsonBytes(reply) <= maxBytes) return { parts: [reply], dropped: [] };
  const users = reply.users ?? [];
  const maps = reply.maps;
  const rest: Record<string, unknown> = {};
  for (const k in reply) if (!(LISTS as readonly string[]).includes(k)) rest[k] = (reply as any)[k];
  const make = (first: boolean, items: number[], more: boolean): ReplyMsg => {
    const m: Record<string, unknown> = first ? { ...rest } : { t: "reply", id: reply.id, code: reply.code };
    m.users = items.map((i) => users[i]);
    if (maps) m.maps = items.map((i) => maps[i] ?? "");
    if (more) m.more = true;
    return m as ReplyMsg;
  };
  // A part with empty lists, then per item its JSON and, after the first, a comma per list.
  const MORE = jsonBytes({ more: true }) - 1; // `,"more":true`
  const emptyLater = jsonBytes(make(false, [], false));
  const cost = (i: number) => jsonBytes(users[i]) + (maps ? jsonBytes(maps[i] ?? "") : 0);
  const comma = maps ? 2 : 1;

  const dropped: number[] = [];
  const kept: number[] = [];
  for (let i = 0; i < users.length; i++) (emptyLater + cost(i) + MORE > maxBytes ? dropped : kept).push(i);

  const parts: ReplyMsg[] = [];
  let items: number[] = [];
  let size = jsonBytes(make(true, [], false));
  for (let k = 0; k < kept.length; k++) {
    const i = kept[k]!;
    const c = cost(i) + (items.length > 0 ? comma : 0);
    const last = k === kept.length - 1;
    if (size + c + (last ? 0 : MORE) > maxBytes) {
      // Full (or the first part's other fields leave no room): close it, this item starts the next.
      parts.push(make(parts.length === 0, items, true));
      items = [];
      size = emptyLater;
      k--;
      continue;
    }
    items.push(i);
    size += c;
  }
  parts.push(make(parts.length === 0, items, false));
  return { parts, dropped };
}

/**
 * Gathers the parts of split replies (see splitReply): give it every `reply`; it
 * returns the whole reply once the last part is in, else null.
 */
export class ReplyGatherer {
  private partial = new Map<number, Record<string, unknown>>();

  add(part: ReplyMsg): ReplyMsg | null {
    const sofar = this.partial.get(part.id);
    let whole: Record<string, unknown> = part;
    if (sofar) {
      for (const k of LISTS) {
        const add = part[k];
        if (!add) continue;
        const into = (sofar[k] ??= []) as string[];
        for (const x of add) into.push(x);
      }
      whole = sofar;
    }
    if (part.more === true) {
      if (!sofar) this.partial.set(part.id, { ...part });
      return null;
    }
    this.partial.delete(part.id);
    delete whole.more;
    return whole as ReplyMsg;
  }
}
