/**
 * Listings too long for one frame (behaviour.md §8): splitReply cuts them at the byte limit,
 * ReplyGatherer puts them back together.
 */
import { describe, expect, test } from "bun:test";
import { ReplyGatherer, splitReply, type ReplyMsg } from "../../src/protocol/listing.ts";
import { decodeServer, encodeMessage, MAX_SERVER_FRAME } from "../../src/protocol/messages.ts";

const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v)).byteLength;
const users = (names: string[], id = 7): ReplyMsg => ({ t: "reply", id, code: "users", users: names });

function gather(parts: ReplyMsg[]): ReplyMsg {
  const g = new ReplyGatherer();
  let whole: ReplyMsg | null = null;
  parts.forEach((p, i) => {
    // Each part travels as a frame: encode and decode it like the client does.
    const back = decodeServer(encodeMessage(p).subarray(5));
    if (typeof back === "string" || back.t !== "reply") throw new Error(String(back));
    whole = g.add(back);
    expect(whole === null).toBe(i < parts.length - 1);
  });
  return whole!;
}

describe("splitReply", () => {
  test("a reply that fits is sent as it is, one part, no `more`", () => {
    const r = users(["a", "b"]);
    expect(splitReply(r, 1000)).toEqual({ parts: [r], dropped: [] });
  });

  test("10 000 users of 10 characters: parts within the frame limit, all but the last with more: true, order kept", () => {
    const names = Array.from({ length: 10_000 }, (_, i) => `user${String(i).padStart(6, "0")}`);
    const { parts, dropped } = splitReply(users(names), MAX_SERVER_FRAME - 1);
    expect(dropped).toEqual([]);
    expect(parts.length).toBeGreaterThan(1);
    for (const [i, p] of parts.entries()) {
      expect(bytes(p)).toBeLessThanOrEqual(MAX_SERVER_FRAME - 1);
      expect(encodeMessage(p).byteLength - 4).toBeLessThanOrEqual(MAX_SERVER_FRAME);
      expect(p.more).toBe(i < parts.length - 1 ? true : undefined);
      expect(p.id).toBe(7);
    }
    expect(gather(parts)).toEqual(users(names));
  });

  test("splits exactly at the byte limit: a full part is exactly maxBytes, one byte less moves an item on", () => {
    // Part 1 = {"t":"reply","id":7,"code":"users","users":["aaaa",...],"more":true}
    const name = "a".repeat(8);
    const empty = bytes({ t: "reply", id: 7, code: "users", users: [], more: true });
    const per = bytes(name) + 1; // the item and its comma
    const k = 5;
    const limit = empty + k * per - 1; // exactly k items (the first has no comma)
    const names = Array.from({ length: 3 * k }, () => name);
    const { parts } = splitReply(users(names), limit);
    expect(bytes(parts[0])).toBe(limit);
    expect(parts[0]!.users).toHaveLength(k);
    const tighter = splitReply(users(names), limit - 1).parts;
    expect(tighter[0]!.users).toHaveLength(k - 1);
    for (const p of [...parts, ...tighter]) expect(bytes(p)).toBeLessThanOrEqual(limit);
    expect(gather(tighter).users).toEqual(names);
  });

  test("budgets count UTF-8 bytes, not characters", () => {
    const names = Array.from({ length: 100 }, (_, i) => `${"é".repeat(700)}${i}`); // 700 characters, 1400+ bytes
    const limit = 20_000;
    const { parts } = splitReply(users(names), limit);
    for (const p of parts) expect(bytes(p)).toBeLessThanOrEqual(limit);
    // counted in characters, ~28 names would seem to fit; in bytes only ~14 do
    expect(parts[0]!.users!.length).toBeLessThan(15);
    expect(gather(parts).users).toEqual(names);
  });

  test("a single item too long for any part is left out and reported; the rest is listed", () => {
    const huge = "\u0001".repeat(16_000); // escaped as \u0001: 96 000 bytes of JSON
    const names = ["a", huge, "b"];
    const { parts, dropped } = splitReply(users(names), MAX_SERVER_FRAME - 1);
    expect(dropped).toEqual([1]);
    expect(gather(parts).users).toEqual(["a", "b"]);
  });

  test("users and maps stay paired; the other fields come with the first part only", () => {
    const n = 2000;
    const names = Array.from({ length: n }, (_, i) => `holder${i}`);
    const maps = names.map((_, i) => (i % 2 ? "1" : "0").repeat(256));
    const hashes = Array.from({ length: 256 }, () => "ab".repeat(32));
    const r: ReplyMsg = { t: "reply", id: 3, code: "file", size: 1 << 20, hashes, users: names, maps };
    const { parts } = splitReply(r, MAX_SERVER_FRAME - 1);
    expect(parts.length).toBeGreaterThan(5);
    expect(parts[0]!.hashes).toEqual(hashes);
    expect(parts[1]!.hashes).toBeUndefined();
    for (const p of parts) {
      expect(p.maps!.length).toBe(p.users!.length);
      expect(bytes(p)).toBeLessThanOrEqual(MAX_SERVER_FRAME - 1);
    }
    expect(gather(parts)).toEqual(r);
  });

  test("first part's other fields leave no room for the first item: it starts the second part", () => {
    const r: ReplyMsg = { t: "reply", id: 1, code: "file", size: 1, hashes: ["x".repeat(900)], users: ["y".repeat(500), "z"], maps: ["1", "0"] };
    const { parts } = splitReply(r, 1000);
    expect(parts[0]!.users).toEqual([]);
    for (const p of parts) expect(bytes(p)).toBeLessThanOrEqual(1000);
    expect(gather(parts)).toEqual(r);
  });
});

describe("ReplyGatherer", () => {
  test("interleaved listings with different ids are gathered apart; a plain reply passes straight through", () => {
    const g = new ReplyGatherer();
    expect(g.add({ t: "reply", id: 1, code: "users", users: ["a"], more: true })).toBeNull();
    expect(g.add({ t: "reply", id: 2, code: "users", users: ["x"], more: true })).toBeNull();
    expect(g.add({ t: "reply", id: 9, code: "ok" })).toEqual({ t: "reply", id: 9, code: "ok" });
    expect(g.add({ t: "reply", id: 1, code: "users", users: ["b"] })).toEqual({ t: "reply", id: 1, code: "users", users: ["a", "b"] });
    expect(g.add({ t: "reply", id: 2, code: "users", users: ["y"] })).toEqual({ t: "reply", id: 2, code: "users", users: ["x", "y"] });
  });
});
