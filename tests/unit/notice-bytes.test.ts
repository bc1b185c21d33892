/**
 * A window's notices as bytes (src/server/notice-bytes.ts): a run is exactly the
 * frames its notices would have been sent as one by one, in the form the link reads;
 * slices handed out stay intact while the list grows.
 */
import { describe, expect, test } from "bun:test";
import { silentLogger } from "../../src/common/logger.ts";
import { encodeCompactServer } from "../../src/protocol/compact.ts";
import { encodeMessage, type ServerMsg } from "../../src/protocol/messages.ts";
import { NoticeBytes } from "../../src/server/notice-bytes.ts";
import { pres } from "./hubkit.ts";
import { concat } from "./prng.ts";

const json = (ms: ServerMsg[]) => concat(ms.map(encodeMessage));
const compact = (ms: ServerMsg[]) => concat(ms.map((m) => encodeCompactServer(m) ?? encodeMessage(m)));

describe("NoticeBytes", () => {
  test("a run is the notices' frames back to back, JSON or compact", () => {
    const list = [pres("hans", "in"), pres("yoda", "out"), pres("luke", "in")];
    const b = new NoticeBytes(list, silentLogger);
    expect(b.slice(false, 0, 3)).toEqual(json(list));
    expect(b.slice(true, 0, 3)).toEqual(compact(list));
    expect(b.slice(true, 1, 2)).toEqual(compact([list[1]!]));
    expect(b.slice(false, 2, 3)).toEqual(json([list[2]!]));
    expect(b.slice(true, 3, 3).byteLength).toBe(0);
  });

  test("a message with no compact form goes as JSON among compact frames", () => {
    const list: ServerMsg[] = [pres("hans", "in"), { t: "msg", from: "yoda", text: "hi", kind: "offline", seq: 7 }, pres("yoda", "in")];
    const b = new NoticeBytes(list, silentLogger);
    expect(encodeCompactServer(list[1]!)).toBeNull();
    expect(b.slice(true, 0, 3)).toEqual(concat([encodeCompactServer(list[0]!)!, encodeMessage(list[1]!), encodeCompactServer(list[2]!)!]));
  });

  test("the list grows: runs reach the new notices, and slices handed out before keep their bytes", () => {
    const list: ServerMsg[] = [pres("u0", "in")];
    const b = new NoticeBytes(list, silentLogger);
    const first = b.slice(true, 0, 1);
    const firstCopy = first.slice();
    // Far past the first buffer: it is replaced, and written on only past what was handed out.
    for (let i = 1; i < 2000; i++) list.push(pres(`user${i}`, i % 2 ? "in" : "out"));
    expect(b.slice(true, 0, list.length)).toEqual(compact(list));
    expect(b.slice(false, 1500, 2000)).toEqual(json(list.slice(1500)));
    expect(first).toEqual(firstCopy);
    const mid = b.slice(true, 10, 20);
    const midCopy = mid.slice();
    list.push(pres("late", "in"));
    expect(b.slice(true, 20, list.length)).toEqual(compact(list.slice(20)));
    expect(mid).toEqual(midCopy);
  });

  test("the same run for many links is one shared array", () => {
    const list = [pres("hans", "in"), pres("yoda", "in")];
    const b = new NoticeBytes(list, silentLogger);
    expect(b.slice(true, 0, 2)).toBe(b.slice(true, 0, 2));
  });

  test("a notice over the frame limit is left out, the others kept", () => {
    const list = [pres("hans", "in"), pres("x".repeat(70_000), "in"), pres("yoda", "in")];
    const b = new NoticeBytes(list, silentLogger);
    expect(b.slice(false, 0, 3)).toEqual(json([list[0]!, list[2]!]));
    expect(b.slice(true, 1, 2).byteLength).toBe(0);
  });
});
