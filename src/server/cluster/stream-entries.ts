/**
 * Reading Redis stream replies (pure). Bun's client speaks RESP3, so `XREAD` comes
 * back as `{ "<stream>": [[id, [field, value, ...]], ...] }` (null when BLOCK timed
 * out) and `XRANGE` as `[[id, [field, value, ...]], ...]`.
 *
 * A bus entry has two fields: `f` the sending node's id, and either `e` one event as
 * JSON or `b` a JSON array of events (a batch: what one node produced for the same
 * stream in one event-loop turn, one XADD instead of one each — batcher.ts). A batch
 * is read back as that many entries sharing the stream id, in the array's order.
 */
export type BusEvent = Record<string, unknown>;

export type StreamEntry = { id: string; from: string; event: BusEvent };

/** What a stream entry carries, as the fields XADD is given. */
export function entryFields(from: string, event: BusEvent): string[] {
  return ["f", from, "e", JSON.stringify(event)];
}

/** Several events as one stream entry (one event: the plain form above). */
export function batchFields(from: string, events: BusEvent[]): string[] {
  return events.length === 1 ? entryFields(from, events[0]!) : ["f", from, "b", JSON.stringify(events)];
}

/** XREAD's reply → stream key → entries in stream order. Unknown shapes throw. */
export function parseXRead(reply: unknown): Map<string, StreamEntry[]> {
  const out = new Map<string, StreamEntry[]>();
  if (reply === null || reply === undefined) return out;
  if (typeof reply !== "object" || Array.isArray(reply)) throw new Error(`XREAD: unexpected reply ${short(reply)}`);
  for (const [stream, entries] of Object.entries(reply as Record<string, unknown>)) {
    out.set(stream, parseRange(entries));
  }
  return out;
}

/** XRANGE's reply → entries. An entry whose event is not a JSON object is kept as `{}` with its id. */
export function parseRange(reply: unknown): StreamEntry[] {
  if (!Array.isArray(reply)) throw new Error(`stream entries: unexpected reply ${short(reply)}`);
  return reply.flatMap((raw): StreamEntry[] => {
    if (!Array.isArray(raw) || typeof raw[0] !== "string" || !Array.isArray(raw[1])) {
      throw new Error(`stream entry: unexpected shape ${short(raw)}`);
    }
    const fields = raw[1] as unknown[];
    let from = "";
    let events: BusEvent[] = [{}];
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === "f") from = String(fields[i + 1]);
      if (fields[i] === "e") events = [parseEvent(String(fields[i + 1]))];
      if (fields[i] === "b") events = parseBatch(String(fields[i + 1]));
    }
    return events.map((event) => ({ id: raw[0] as string, from, event }));
  });
}

/** A batch's events; an unreadable batch counts as one empty event (its id still advances the reader). */
function parseBatch(json: string): BusEvent[] {
  try {
    const v: unknown = JSON.parse(json);
    if (!Array.isArray(v) || v.length === 0) return [{}];
    return v.map((e) => (e !== null && typeof e === "object" && !Array.isArray(e) ? (e as BusEvent) : {}));
  } catch {
    return [{}];
  }
}

function parseEvent(json: string): BusEvent {
  try {
    const v: unknown = JSON.parse(json);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as BusEvent) : {};
  } catch {
    return {};
  }
}

/**
 * The smallest id after `id` ("<ms>-<seq>" → "<ms>-<seq+1>"): `XTRIM MINID` keeps ids
 * ≥ its argument, so trimming up to and including `id` needs its successor.
 */
export function idAfter(id: string): string {
  const [ms, seq] = id.split("-");
  return `${ms}-${BigInt(seq ?? "0") + 1n}`;
}

function short(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 120 ? s.slice(0, 120) + "…" : s;
}
