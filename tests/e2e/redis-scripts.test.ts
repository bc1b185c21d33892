/**
 * The cluster's atomic steps (src/server/redis/scripts.ts) against a real
 * redis-server started by the harness: each script's rules, its behaviour under
 * concurrent callers, and what survives Redis being killed and restarted.
 */
import { RedisClient } from "bun";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { keys } from "../../src/server/redis/keys.ts";
import {
  ALL_SCRIPTS,
  CLAIM_SESSION,
  LOGIN_FAILURE,
  LOGIN_SUCCESS,
  LOOKUP_RECIPIENT,
  MAILBOX_ACK,
  MAILBOX_APPEND,
  RELEASE_SESSION,
  parseClaim,
  parseLoginFailure,
  parseLoginSuccess,
  parseRecipient,
  runScript,
  scriptSha,
  type Script,
} from "../../src/server/redis/scripts.ts";
import { startRedis, stopAllRedis, type RedisServer } from "./redis.ts";

let redis: RedisServer;
let c: RedisClient;
const clients: RedisClient[] = [];

function client(): RedisClient {
  const k = new RedisClient(redis.url);
  clients.push(k);
  return k;
}

beforeAll(async () => {
  redis = await startRedis();
  c = client();
});
afterAll(async () => {
  for (const k of clients) k.close();
  await stopAllRedis();
});
beforeEach(async () => {
  await c.send("FLUSHALL", []);
});

const run = (s: Script, k: string[], a: (string | number)[], conn: RedisClient = c) => runScript(conn, s, k, a.map(String));

describe("claim and release a user's session", () => {
  const claim = (user: string, holder: string, stale = "", ttl = 0, conn = c) =>
    run(CLAIM_SESSION, [keys.session(user)], [holder, stale, ttl], conn).then(parseClaim);

  test("the first claim wins; a second node is told who holds it", async () => {
    expect(await claim("hans", "node-a|1|100")).toEqual({ claimed: true });
    expect(await claim("hans", "node-b|7|200")).toEqual({ claimed: false, holder: "node-a|1|100" });
    expect(await c.get(keys.session("hans"))).toBe("node-a|1|100");
  });

  test("a stale holder is replaced only by a claim naming exactly that holder", async () => {
    await claim("hans", "node-a|1|100");
    expect(await claim("hans", "node-b|7|200", "node-a|1|99")).toEqual({ claimed: false, holder: "node-a|1|100" });
    expect(await claim("hans", "node-b|7|200", "node-a|1|100")).toEqual({ claimed: true });
    // A third node that also saw node-a's session as stale comes too late.
    expect(await claim("hans", "node-c|3|300", "node-a|1|100")).toEqual({ claimed: false, holder: "node-b|7|200" });
  });

  test("a ttl is set when asked for, none otherwise", async () => {
    await claim("hans", "node-a|1|100", "", 15_000);
    const pttl = await c.pttl(keys.session("hans"));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(15_000);
    await claim("yoda", "node-a|2|100");
    expect(await c.pttl(keys.session("yoda"))).toBe(-1);
  });

  test("of 40 nodes claiming the same user at once, exactly one wins", async () => {
    const conns = Array.from({ length: 4 }, () => client());
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) => claim("luke", `node-${i}|1|1`, "", 0, conns[i % conns.length]!)),
    );
    const winners = replies.map((r, i) => (r.claimed ? i : -1)).filter((i) => i >= 0);
    expect(winners).toHaveLength(1);
    const holder = `node-${winners[0]}|1|1`;
    expect(await c.get(keys.session("luke"))).toBe(holder);
    for (const r of replies) if (!r.claimed) expect(r.holder).toBe(holder);
  });

  test("release deletes the session only while it is still ours", async () => {
    await claim("hans", "node-a|1|100");
    expect(await run(RELEASE_SESSION, [keys.session("hans")], ["node-b|7|200"])).toBe(0);
    expect(await c.get(keys.session("hans"))).toBe("node-a|1|100");
    expect(await run(RELEASE_SESSION, [keys.session("hans")], ["node-a|1|100"])).toBe(1);
    expect(await c.get(keys.session("hans"))).toBeNull();
    expect(await run(RELEASE_SESSION, [keys.session("hans")], ["node-a|1|100"])).toBe(0);
  });
});

describe("looking up a message's recipient", () => {
  const lookup = (to: string, from: string) =>
    run(LOOKUP_RECIPIENT, [keys.session(to), keys.blocks(to)], [from]).then(parseRecipient);

  test("offline or online, blocking the sender or not, in one reply", async () => {
    expect(await lookup("yoda", "hans")).toEqual({ holder: null, blocksSender: false });
    await c.set(keys.session("yoda"), "node-a|4|100");
    await c.sadd(keys.blocks("yoda"), "vader");
    expect(await lookup("yoda", "hans")).toEqual({ holder: "node-a|4|100", blocksSender: false });
    expect(await lookup("yoda", "vader")).toEqual({ holder: "node-a|4|100", blocksSender: true });
    // Blocks go one way: vader blocking nobody lets yoda through.
    expect(await lookup("vader", "yoda")).toEqual({ holder: null, blocksSender: false });
  });
});

describe("lockout: failures per username, the 3rd blocks the account", () => {
  const BLOCK = 60_000;
  const fail = (user: string, now: number, failsTtl = 0) =>
    run(LOGIN_FAILURE, [keys.fails(user), keys.locked(user)], [now, 3, BLOCK, failsTtl]).then(parseLoginFailure);
  const succeed = (user: string, now: number) =>
    run(LOGIN_SUCCESS, [keys.fails(user), keys.locked(user)], [now]).then(parseLoginSuccess);

  test("two failures are counted, the third locks, then every attempt is refused until the block ends", async () => {
    expect(await fail("yoda", 1000)).toEqual({ verdict: "bad_password", failures: 1 });
    expect(await fail("yoda", 2000)).toEqual({ verdict: "bad_password", failures: 2 });
    expect(await fail("yoda", 3000)).toEqual({ verdict: "locked_now", blockMs: BLOCK });
    expect(await fail("yoda", 4000)).toEqual({ verdict: "blocked", msLeft: 3000 + BLOCK - 4000 });
    expect(await succeed("yoda", 5000)).toEqual({ verdict: "blocked", msLeft: 3000 + BLOCK - 5000 });
    // Redis's own expiry only collects the key: it is set to the block duration.
    const pttl = await c.pttl(keys.locked("yoda"));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(BLOCK);
    // Once the block is over (by the caller's clock), a right password gets in.
    expect(await succeed("yoda", 3000 + BLOCK)).toEqual({ verdict: "ok" });
    // The count started again from zero after the lockout.
    expect(await fail("yoda", 3000 + BLOCK + 1)).toEqual({ verdict: "bad_password", failures: 1 });
  });

  test("a success resets the count: failures must be consecutive", async () => {
    await fail("hans", 1);
    await fail("hans", 2);
    expect(await succeed("hans", 3)).toEqual({ verdict: "ok" });
    expect(await c.get(keys.fails("hans"))).toBeNull();
    expect(await fail("hans", 4)).toEqual({ verdict: "bad_password", failures: 1 });
  });

  test("users are counted apart; the count may be given an expiry", async () => {
    await fail("hans", 1);
    expect(await fail("luke", 2, 30_000)).toEqual({ verdict: "bad_password", failures: 1 });
    expect(await c.pttl(keys.fails("hans"))).toBe(-1);
    const pttl = await c.pttl(keys.fails("luke"));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(30_000);
  });

  test("failures arriving at once through several nodes lock exactly once", async () => {
    const conns = Array.from({ length: 3 }, () => client());
    const replies = await Promise.all(
      Array.from({ length: 9 }, (_, i) =>
        run(LOGIN_FAILURE, [keys.fails("vader"), keys.locked("vader")], [1000, 3, BLOCK, 0], conns[i % 3]!).then(parseLoginFailure),
      ),
    );
    const verdicts = replies.map((r) => r.verdict).sort();
    expect(verdicts).toEqual(["bad_password", "bad_password", ...Array(6).fill("blocked"), "locked_now"].sort());
  });
});

describe("offline mailbox: append with seq, peek, acknowledge a range", () => {
  const MAX = 5;
  const append = (user: string, text: string, max = MAX) =>
    run(MAILBOX_APPEND, [keys.mailbox(user), keys.mailboxSeq(user)], [JSON.stringify({ from: "hans", text, at: 1 }), max]);
  const ack = (user: string, upTo: number) => run(MAILBOX_ACK, [keys.mailbox(user)], [upTo]);
  /** Messages with seq > after, oldest first: XRANGE with an exclusive start. */
  const peek = async (user: string, after: number, limit = 100) => {
    const entries = (await c.send("XRANGE", [keys.mailbox(user), `(${after}-0`, "+", "COUNT", String(limit)])) as [string, string[]][];
    return entries.map(([id, fields]) => ({ seq: Number(id.split("-")[0]), text: JSON.parse(fields[1]!).text as string }));
  };

  test("seqs increase per recipient; peek reads after a seq without removing", async () => {
    expect(await append("yoda", "one")).toBe(1);
    expect(await append("yoda", "two")).toBe(2);
    expect(await append("luke", "other")).toBe(1);
    expect(await append("yoda", "three")).toBe(3);
    expect(await peek("yoda", 0)).toEqual([
      { seq: 1, text: "one" },
      { seq: 2, text: "two" },
      { seq: 3, text: "three" },
    ]);
    expect(await peek("yoda", 1, 1)).toEqual([{ seq: 2, text: "two" }]);
    expect(await peek("yoda", 3)).toEqual([]);
    expect(await c.send("XLEN", [keys.mailbox("yoda")])).toBe(3);
  });

  test("a full mailbox stores nothing and gives out no seq", async () => {
    for (let i = 1; i <= MAX; i++) expect(await append("yoda", `m${i}`)).toBe(i);
    expect(await append("yoda", "too many")).toBe(0);
    expect(await c.get(keys.mailboxSeq("yoda"))).toBe(String(MAX));
    await ack("yoda", 2);
    expect(await append("yoda", "room again")).toBe(MAX + 1);
  });

  test("ack deletes up to and including a seq; an emptied mailbox goes, its seqs are never reused", async () => {
    for (const t of ["a", "b", "c", "d"]) await append("yoda", t);
    expect(await ack("yoda", 2)).toBe(2);
    expect((await peek("yoda", 0)).map((m) => m.seq)).toEqual([3, 4]);
    expect(await ack("yoda", 2)).toBe(0);
    expect(await ack("yoda", 1_000_000)).toBe(2);
    expect(await c.exists(keys.mailbox("yoda"))).toBe(false);
    expect(await append("yoda", "e")).toBe(5);
  });

  test("seqs past 1e14 are written as whole numbers, not 1e+14", async () => {
    await c.set(keys.mailboxSeq("r2d2"), String(1e14));
    expect(await append("r2d2", "big")).toBe(1e14 + 1);
    expect(await peek("r2d2", 1e14)).toEqual([{ seq: 1e14 + 1, text: "big" }]);
    expect(await ack("r2d2", 1e14 + 1)).toBe(1);
  });

  test("concurrent appends from several nodes get distinct seqs, all stored", async () => {
    const conns = Array.from({ length: 4 }, () => client());
    const seqs = (await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        runScript(conns[i % 4]!, MAILBOX_APPEND, [keys.mailbox("luke"), keys.mailboxSeq("luke")], [`{"i":${i}}`, "10000"]),
      ),
    )) as number[];
    expect(new Set(seqs).size).toBe(200);
    expect(Math.min(...seqs)).toBe(1);
    expect(Math.max(...seqs)).toBe(200);
    expect(await c.send("XLEN", [keys.mailbox("luke")])).toBe(200);
  });
});

describe("scripts across a Redis restart", () => {
  test("what was stored survives kill -9, and scripts run again though Redis forgot them", async () => {
    const seq = await runScript(c, MAILBOX_APPEND, [keys.mailbox("hans"), keys.mailboxSeq("hans")], ['{"text":"kept"}', "10"]);
    expect(await c.send("SCRIPT", ["EXISTS", scriptSha(MAILBOX_APPEND)])).toEqual([1]);
    await redis.kill();
    await redis.restart();
    const fresh = client();
    // appendfsync always: the write was on disk before its reply.
    expect(await fresh.send("XLEN", [keys.mailbox("hans")])).toBe(1);
    expect(await fresh.send("SCRIPT", ["EXISTS", scriptSha(MAILBOX_APPEND)])).toEqual([0]);
    const next = await runScript(fresh, MAILBOX_APPEND, [keys.mailbox("hans"), keys.mailboxSeq("hans")], ['{"text":"next"}', "10"]);
    expect(next).toBe((seq as number) + 1);
  });
});

describe("running scripts", () => {
  test("every script's SHA is the one Redis computes, and loads without error", async () => {
    for (const s of ALL_SCRIPTS) expect(await c.send("SCRIPT", ["LOAD", s.source])).toBe(scriptSha(s));
  });

  test("a script is sent whole once, then by SHA", async () => {
    await c.send("SCRIPT", ["FLUSH"]);
    await c.send("CONFIG", ["RESETSTAT"]);
    for (let i = 0; i < 3; i++) await runScript(c, RELEASE_SESSION, [keys.session("x")], ["h"]);
    const stats = (await c.send("INFO", ["commandstats"])) as string;
    expect(stats).toMatch(/cmdstat_eval:calls=1,/);
    expect(stats).toMatch(/cmdstat_evalsha:calls=3,.*failed_calls=1/);
  });

  test("a wrong number of keys is refused before anything is sent; Lua errors reach the caller", async () => {
    await expect(runScript(c, MAILBOX_APPEND, [keys.mailbox("x")], ["{}", "1"])).rejects.toThrow("mailbox_append takes 2 keys, got 1");
    await c.set(keys.mailboxSeq("x"), "not a number");
    await expect(runScript(c, MAILBOX_APPEND, [keys.mailbox("x"), keys.mailboxSeq("x")], ["{}", "5"])).rejects.toThrow(/not an integer/);
  });

  test("unexpected replies are reported, not guessed at", () => {
    expect(() => parseClaim("OK")).toThrow("claim_session: unexpected reply");
    expect(() => parseLoginFailure(["weird", 1])).toThrow("login_failure: unexpected reply");
    expect(() => parseLoginSuccess(null)).toThrow("login_success: unexpected reply");
    expect(() => parseRecipient([null, 0])).toThrow("lookup_recipient: unexpected reply");
  });
});

describe("keys", () => {
  test("a user's keys share one hash tag; odd names cannot break it or collide", () => {
    const names = ["hans", "a}b", "{x}", "a:b", "a b", "ü"];
    const tags = new Set<string>();
    for (const n of names) {
      const ks = [keys.session(n), keys.fails(n), keys.locked(n), keys.mailbox(n), keys.mailboxSeq(n), keys.blocks(n)];
      const t = ks.map((k) => /\{([^}]*)\}/.exec(k)![1]!);
      expect(new Set(t).size).toBe(1);
      expect(t[0]).toBe(`u:${encodeURIComponent(n)}`);
      tags.add(t[0]!);
    }
    expect(tags.size).toBe(names.length);
  });
});

describe("the harness", () => {
  test("stop() ends the process by PID; restart() brings it back on the same port with its data", async () => {
    const own = await startRedis();
    const k2 = new RedisClient(own.url);
    clients.push(k2);
    await k2.set("kept", "yes");
    const pid = own.pid;
    await own.stop();
    expect(own.running).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
    await own.restart();
    expect(own.pid).not.toBe(pid);
    const k3 = new RedisClient(own.url);
    clients.push(k3);
    expect(await k3.get("kept")).toBe("yes");
    await own.stop();
  });
});
