/**
 * The cluster bus's pure parts (src/server/cluster/): the liveness judgement with a
 * manual clock, link up/down bookkeeping, retry backoff, stream reply parsing, the
 * outage classification and INFO commandstats parsing.
 */
import { describe, expect, test } from "bun:test";
import { ManualClock } from "../../src/common/clock.ts";
import { Backoff } from "../../src/server/cluster/backoff.ts";
import { isOutage, redactUrl, RedisConnectFailed, RedisUnavailable } from "../../src/server/cluster/errors.ts";
import { LinkState } from "../../src/server/cluster/link-state.ts";
import { withTimeout } from "../../src/server/cluster/link.ts";
import { LivenessJudge } from "../../src/server/cluster/liveness.ts";
import { parseCommandStats } from "../../src/server/cluster/stats.ts";
import { entryFields, idAfter, parseRange, parseXRead } from "../../src/server/cluster/stream-entries.ts";

describe("liveness judgement", () => {
  const GRACE = 10_000;
  test("a registered node without its heartbeat key is a suspect; live ones and this node are not", () => {
    const clock = new ManualClock();
    const j = new LivenessJudge("me", GRACE);
    const upSince = clock.now();
    clock.advance(GRACE);
    expect(j.suspects(clock.now(), upSince, ["me", "a", "b"], new Set(["a"]))).toEqual(["b"]);
    // This node's own key missing (it is not in `alive`) never makes it a suspect of itself.
    expect(j.suspects(clock.now(), upSince, ["me"], new Set())).toEqual([]);
  });

  test("nothing is suspected until this node's link has been up for the grace period", () => {
    const clock = new ManualClock();
    const j = new LivenessJudge("me", GRACE);
    const upSince = clock.now();
    clock.advance(GRACE - 1);
    expect(j.suspects(clock.now(), upSince, ["me", "a"], new Set())).toEqual([]);
    clock.advance(1);
    expect(j.suspects(clock.now(), upSince, ["me", "a"], new Set())).toEqual(["a"]);
    // Link down: no judgement at all.
    expect(j.suspects(clock.now(), null, ["me", "a"], new Set())).toEqual([]);
  });

  test("a dead node is reported once, whether seen by a scan or announced, before or after it was reaped", () => {
    const j = new LivenessJudge("me", 0);
    expect(j.confirm("a")).toBe(true);
    expect(j.confirm("a")).toBe(false);
    expect(j.suspects(5, 0, ["me", "a"], new Set())).toEqual(["a"]);
    expect(j.confirm("a")).toBe(false);
    j.suspects(6, 0, ["me"], new Set()); // "a" left tc:nodes (reaped)
    expect(j.confirm("a")).toBe(false); // a late announcement reports nothing twice
  });

  test("with the default times a crash is reported within 15 s", () => {
    // Crash right after a beat: the key lives ttl (10 s); the next scan (every 2 s) sees it gone.
    const ttl = 10_000, scan = 2000;
    const clock = new ManualClock(0);
    const j = new LivenessJudge("me", 10_000);
    const crashAt = 20_000;
    let reportedAt = -1;
    for (let t = 0; t <= 40_000 && reportedAt < 0; t += scan) {
      clock.advance(t - clock.now());
      const alive = t < crashAt + ttl ? new Set(["a"]) : new Set<string>();
      for (const id of j.suspects(clock.now(), 0, ["me", "a"], alive)) if (j.confirm(id)) reportedAt = t;
    }
    expect(reportedAt - crashAt).toBeGreaterThanOrEqual(ttl);
    expect(reportedAt - crashAt).toBeLessThan(15_000);
  });
});

describe("link state", () => {
  test("down on the first failure, up on the first answer, each change reported once", () => {
    const s = new LinkState(100);
    expect(s.up).toBe(true);
    expect(s.answered(150)).toBeNull();
    expect(s.failed(200)).toBe("down");
    expect(s.failed(210)).toBeNull();
    expect(s.upSince).toBeNull();
    expect(s.upFor(5000, 0)).toBe(false);
    expect(s.answered(300)).toBe("up");
    expect(s.upSince).toBe(300);
    expect(s.upFor(1299, 1000)).toBe(false);
    expect(s.upFor(1300, 1000)).toBe(true);
  });
});

describe("command timeout on the injected clock", () => {
  test("a promise that never settles fails with RedisUnavailable when the clock passes the timeout", async () => {
    const clock = new ManualClock();
    const p = withTimeout(new Promise(() => {}), clock, 2000);
    let err: unknown = null;
    p.catch((e) => (err = e));
    clock.advance(1999);
    await Bun.sleep(0);
    expect(err).toBeNull();
    clock.advance(1);
    await Bun.sleep(0);
    expect(err).toBeInstanceOf(RedisUnavailable);
    expect((err as RedisUnavailable).reason).toBe("timeout");
  });

  test("an answer in time wins and cancels the timer", async () => {
    const clock = new ManualClock();
    expect(await withTimeout(Promise.resolve(7), clock, 10)).toBe(7);
    clock.advance(100); // nothing fires, nothing throws
  });
});

describe("backoff", () => {
  test("doubles up to the cap and starts over after a success", () => {
    const b = new Backoff(50, 300);
    expect([b.delay(), b.delay(), b.delay(), b.delay(), b.delay()]).toEqual([50, 100, 200, 300, 300]);
    b.reset();
    expect(b.delay()).toBe(50);
  });
});

describe("stream replies", () => {
  test("XREAD (RESP3 map) → entries per stream in order, with sender and event", () => {
    const reply = {
      "tc:events": [
        ["1-0", entryFields("n1", { t: "login", user: "hans" })],
        ["1-1", entryFields("n2", { t: "logout", user: "yoda" })],
      ],
      inbox: [["5-3", ["f", "n2", "e", "not json"]]],
    };
    const m = parseXRead(reply);
    expect(m.get("tc:events")).toEqual([
      { id: "1-0", from: "n1", event: { t: "login", user: "hans" } },
      { id: "1-1", from: "n2", event: { t: "logout", user: "yoda" } },
    ]);
    // A malformed event still advances the reader (its id is kept) but carries nothing.
    expect(m.get("inbox")).toEqual([{ id: "5-3", from: "n2", event: {} }]);
    expect(parseXRead(null).size).toBe(0);
  });

  test("shapes that are not stream replies are refused with a clear error", () => {
    expect(() => parseXRead([1, 2])).toThrow("XREAD: unexpected reply");
    expect(() => parseRange([["1-0", "x"]])).toThrow("stream entry: unexpected shape");
  });

  test("idAfter gives the successor id, exactly, even past 2^53", () => {
    expect(idAfter("1700000000000-0")).toBe("1700000000000-1");
    expect(idAfter("5-9007199254740993")).toBe("5-9007199254740994");
  });
});

describe("errors", () => {
  const redisErr = (code: string, message: string) => Object.assign(new Error(message), { code });
  test("closed connections and outage replies are outages; other error replies and bugs are not", () => {
    expect(isOutage(redisErr("ERR_REDIS_CONNECTION_CLOSED", "Connection closed"))).toBe(true);
    expect(isOutage(new RedisUnavailable("timeout"))).toBe(true);
    expect(isOutage(redisErr("ERR_REDIS_SERVER_ERROR", "LOADING Redis is loading the dataset in memory"))).toBe(true);
    expect(isOutage(redisErr("ERR_REDIS_SERVER_ERROR", "WRONGTYPE Operation against a key"))).toBe(false);
    expect(isOutage(new TypeError("x is not a function"))).toBe(false);
  });

  test("a URL is printed without its password", () => {
    expect(redactUrl("redis://:s3cret@h:6379/2")).toBe("redis://:***@h:6379/2");
    expect(redactUrl("rediss://bob:pw@h:1")).toBe("rediss://bob:***@h:1");
    expect(redactUrl("redis://h:1")).toBe("redis://h:1");
    expect(new RedisConnectFailed("redis://u:pw@h:1").message).toBe("Cannot reach Redis at redis://u:***@h:1");
  });
});

test("INFO commandstats → calls per command", () => {
  const info = "# Commandstats\r\ncmdstat_xadd:calls=12,usec=340,usec_per_call=28.3,rejected_calls=0,failed_calls=1\r\ncmdstat_client|info:calls=2,usec=9,usec_per_call=4.5,rejected_calls=0,failed_calls=0\r\n";
  const s = parseCommandStats(info);
  expect(s.get("xadd")).toEqual({ calls: 12, usec: 340, failed: 1 });
  expect(s.get("client|info")?.calls).toBe(2);
});
