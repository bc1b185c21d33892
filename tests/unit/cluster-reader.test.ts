/**
 * The bus's stream reader (src/server/cluster/reader.ts) against a scripted link:
 * after a failed read it asks again from the last ids it handed over — never `$`,
 * never past an entry not yet delivered — and it trims the inbox up to what it read.
 */
import { expect, test } from "bun:test";
import { ManualClock } from "../../src/common/clock.ts";
import { RedisUnavailable } from "../../src/server/cluster/errors.ts";
import type { RedisLink } from "../../src/server/cluster/link.ts";
import { StreamReader } from "../../src/server/cluster/reader.ts";
import { entryFields } from "../../src/server/cluster/stream-entries.ts";

type Call = { name: string; args: string[] };

/** A link whose blocking reads answer from a script of replies (an Error is thrown). */
function scriptedLink(replies: unknown[]) {
  const reads: Call[] = [];
  const commands: Call[] = [];
  let wake: (() => void) | null = null;
  const link = {
    blocking(name: string, args: string[]) {
      reads.push({ name, args });
      const r = replies.shift();
      if (r === undefined) return new Promise((resolve) => (wake = () => resolve(null)));
      return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
    },
    command(name: string, args: string[]) {
      commands.push({ name, args });
      return Promise.resolve(0);
    },
  };
  return { link: link as unknown as RedisLink, reads, commands, stopWaiting: () => wake?.() };
}

const streamIds = (c: Call) => c.args.slice(-2);

test("a lost read is issued again from the last ids delivered, after a backoff on the clock", async () => {
  const clock = new ManualClock();
  const got: string[] = [];
  const s = scriptedLink([
    { inbox: [["5-0", entryFields("n2", { n: 1 })], ["5-1", entryFields("n2", { n: 2 })]], events: [["9-0", entryFields("n3", { n: 3 })]] },
    new RedisUnavailable("Connection closed"),
    { events: [["9-1", entryFields("n3", { n: 4 })]] },
  ]);
  const r = new StreamReader(s.link, clock, {
    inbox: "inbox",
    events: "events",
    eventsFrom: "7-0",
    blockMs: 1000,
    deliver: (e, m) => got.push(`${m.stream}:${m.id}:${e.n}`),
    error: (what, e) => got.push(`error ${what} ${e}`),
  });
  r.start();
  await Bun.sleep(0);
  expect(got).toEqual(["inbox:5-0:1", "inbox:5-1:2", "events:9-0:3"]);
  // The inbox is trimmed up to and including the last entry read.
  expect(s.commands).toEqual([{ name: "XTRIM", args: ["inbox", "MINID", "5-2"] }]);
  // The second read failed: nothing is re-read until the backoff has passed on the clock.
  expect(s.reads.length).toBe(2);
  clock.advance(49);
  await Bun.sleep(0);
  expect(s.reads.length).toBe(2);
  clock.advance(1);
  await Bun.sleep(0);
  expect(s.reads.map(streamIds)).toEqual([["0-0", "7-0"], ["5-1", "9-0"], ["5-1", "9-0"], ["5-1", "9-1"]]);
  expect(got).toEqual(["inbox:5-0:1", "inbox:5-1:2", "events:9-0:3", "events:9-1:4"]);
  r.stop();
  s.stopWaiting();
});

test("a throwing event handler neither stops the reader nor makes it read the entry again", async () => {
  const errors: string[] = [];
  const delivered: number[] = [];
  const s = scriptedLink([{ events: [["1-0", entryFields("n", { n: 1 })], ["1-1", entryFields("n", { n: 2 })]] }]);
  const r = new StreamReader(s.link, new ManualClock(), {
    inbox: "inbox",
    events: "events",
    eventsFrom: "0-0",
    blockMs: 1000,
    deliver: (e) => {
      delivered.push(e.n as number);
      if (e.n === 1) throw new Error("handler bug");
    },
    error: (what, e) => errors.push(`${what}: ${(e as Error).message}`),
  });
  r.start();
  await Bun.sleep(0);
  expect(delivered).toEqual([1, 2]);
  expect(errors).toEqual(["event handler: handler bug"]);
  expect(s.reads.map(streamIds)).toEqual([["0-0", "0-0"], ["0-0", "1-1"]]);
  r.stop();
  s.stopWaiting();
});
