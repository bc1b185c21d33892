import { describe, expect, test } from "bun:test";
import { Batcher } from "../../src/server/cluster/batcher.ts";
import { batchFields, entryFields, parseRange } from "../../src/server/cluster/stream-entries.ts";
import { OnlineMap } from "../../src/server/online-map.ts";
import { OrderedReplies } from "../../src/server/ordered-replies.ts";

/** A batcher whose turn ends when the test says so, recording what was flushed. */
function manual<T>(max = 256, reply: (key: string, items: T[]) => Promise<string> = async () => "ok") {
  let due: (() => void) | null = null;
  const flushed: [string, T[]][] = [];
  const b = new Batcher<T, string>(
    (key, items) => {
      flushed.push([key, [...items]]);
      return reply(key, items);
    },
    (fn) => {
      due = fn;
    },
    max,
  );
  return { b, flushed, endTurn: () => (due ? (due(), (due = null)) : undefined) };
}

describe("batcher", () => {
  test("what one turn adds for a destination goes out as one batch, in order; destinations apart", async () => {
    const { b, flushed, endTurn } = manual<number>();
    const ps = [b.add("x", 1), b.add("y", 10), b.add("x", 2), b.add("x", 3)];
    expect(flushed).toEqual([]); // nothing before the turn ends
    endTurn();
    expect(flushed).toEqual([
      ["x", [1, 2, 3]],
      ["y", [10]],
    ]);
    expect(await Promise.all(ps)).toEqual(["ok", "ok", "ok", "ok"]);
    b.add("x", 4);
    endTurn();
    expect(flushed[2]).toEqual(["x", [4]]);
  });

  test("a turn bigger than max makes several batches, still in order", () => {
    const { b, flushed, endTurn } = manual<number>(3);
    for (let i = 1; i <= 7; i++) void b.add("x", i);
    endTurn();
    expect(flushed).toEqual([
      ["x", [1, 2, 3]],
      ["x", [4, 5, 6]],
      ["x", [7]],
    ]);
  });

  test("each item gets its batch's outcome: a failed batch rejects its items only", async () => {
    const { b, endTurn } = manual<number>(2, async (_k, items) => {
      if (items.includes(3)) throw new Error("down");
      return "sent";
    });
    const ps = [1, 2, 3, 4, 5].map((i) => b.add("x", i).then((r) => r, (e: Error) => e.message));
    endTurn();
    expect(await Promise.all(ps)).toEqual(["sent", "sent", "down", "down", "sent"]);
  });

  test("a flush function that throws synchronously rejects its batch", async () => {
    const b = new Batcher<number, string>(() => {
      throw new Error("bug");
    }, (fn) => fn());
    expect(b.add("x", 1)).rejects.toThrow("bug");
  });
});

describe("batched stream entries", () => {
  test("one event is the plain entry; several are one entry read back as many, same id, in order", () => {
    expect(batchFields("n1", [{ n: 1 }])).toEqual(entryFields("n1", { n: 1 }));
    const got = parseRange([
      ["3-0", batchFields("n1", [{ n: 1 }, { n: 2 }, { n: 3 }])],
      ["3-1", entryFields("n2", { n: 4 })],
    ]);
    expect(got).toEqual([
      { id: "3-0", from: "n1", event: { n: 1 } },
      { id: "3-0", from: "n1", event: { n: 2 } },
      { id: "3-0", from: "n1", event: { n: 3 } },
      { id: "3-1", from: "n2", event: { n: 4 } },
    ]);
  });

  test("an unreadable batch still advances the reader (one empty event with its id)", () => {
    expect(parseRange([["4-0", ["f", "n", "b", "[oops"]]])).toEqual([{ id: "4-0", from: "n", event: {} }]);
    expect(parseRange([["4-1", ["f", "n", "b", "[1, {\"a\": 1}]"]]])).toEqual([
      { id: "4-1", from: "n", event: {} },
      { id: "4-1", from: "n", event: { a: 1 } },
    ]);
  });
});

describe("online map", () => {
  test("in, blocks and out keep where a user is and whom they block", () => {
    const m = new OnlineMap();
    m.in("hans", "A", ["yoda"]);
    expect(m.where("hans")?.node).toBe("A");
    expect(m.where("hans")?.blocks.has("yoda")).toBe(true);
    m.blocks("hans", "A", []);
    expect(m.where("hans")?.blocks.has("yoda")).toBe(false);
    m.out("hans", "A");
    expect(m.where("hans")).toBeUndefined();
  });

  test("a logout on A arriving after the login on B leaves B in place", () => {
    const m = new OnlineMap();
    m.in("hans", "A", []);
    m.in("hans", "B", []);
    m.out("hans", "A"); // A's logout event came late
    expect(m.where("hans")?.node).toBe("B");
    m.blocks("hans", "A", ["x"]); // a stale block list from A changes nothing
    expect(m.where("hans")?.blocks.size).toBe(0);
  });

  test("a dead server's users leave the map, the others stay", () => {
    const m = new OnlineMap();
    m.in("a1", "A", []);
    m.in("a2", "A", []);
    m.in("b1", "B", []);
    m.nodeGone("A");
    expect([m.where("a1"), m.where("a2"), m.where("b1")?.node]).toEqual([undefined, undefined, "B"]);
    expect(m.size).toBe(1);
  });
});

test("online map resync: what it read fills the gaps, but an event that came meanwhile wins", () => {
  const m = new OnlineMap();
  m.in("known", "A", []);
  m.beginResync();
  m.out("left", "B"); // logged out while the resync was reading: its reading is older
  m.in("moved", "C", []);
  m.endResync([
    { user: "known", node: "X", blocks: [] },
    { user: "left", node: "B", blocks: [] },
    { user: "moved", node: "B", blocks: [] },
    { user: "new", node: "B", blocks: ["hans"] },
  ]);
  expect([m.where("known")?.node, m.where("left"), m.where("moved")?.node, m.where("new")?.node]).toEqual(["A", undefined, "C", "B"]);
  expect(m.where("new")?.blocks.has("hans")).toBe(true);
  m.out("new", "B"); // after the resync, events apply as usual
  expect(m.where("new")).toBeUndefined();
});

describe("ordered replies", () => {
  test("sent in the order added, whatever order they become ready in; idle once all are out", async () => {
    const sent: string[] = [];
    let idle = 0;
    const r = new OrderedReplies(() => idle++, () => {});
    const later: ((v: string) => void)[] = [];
    const wait = () => new Promise<string>((res) => later.push(res));
    r.add(wait(), (v) => sent.push(v));
    r.add("b", (v) => sent.push(v)); // ready now, but behind the first
    r.add(wait(), (v) => sent.push(v));
    expect([sent, r.size]).toEqual([[], 3]);
    later[1]!("c");
    await Bun.sleep(0);
    expect(sent).toEqual([]);
    later[0]!("a");
    await Bun.sleep(0);
    expect([sent, r.size, idle]).toEqual([["a", "b", "c"], 0, 1]);
  });

  test("a reply that rejects goes to fail, in its turn; the later ones still go out", async () => {
    const seen: string[] = [];
    const r = new OrderedReplies(() => {}, (e) => seen.push(`fail ${(e as Error).message}`));
    r.add(Promise.reject(new Error("bug")), (v: string) => seen.push(v));
    r.add(Promise.resolve("next"), (v) => seen.push(v));
    await Bun.sleep(0);
    expect(seen).toEqual(["fail bug", "next"]);
  });
});
