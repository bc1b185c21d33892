/**
 * One contract per state interface (src/server/store.ts, src/server/state.ts), run
 * against every implementation: memory and SQLite in tests/unit/state-contracts.test.ts,
 * Redis in tests/e2e/redis-state.test.ts. Every call is awaited: an implementation
 * may answer at once or later, the contract is the same.
 */
import { describe, expect, test } from "bun:test";
import { ManualClock } from "../../src/common/clock.ts";
import { TOKEN_TTL_MS } from "../../src/server/peertokens.ts";
import type { Directory, FileIndex, Lockout, SessionInfo, TokenStore } from "../../src/server/state.ts";
import type { BlockList, Mailbox } from "../../src/server/store.ts";

/** Makes a fresh, empty implementation (its own namespace); `clock` is the one it must use, if it uses one. */
export type Maker<T> = (clock: ManualClock) => Promise<T> | T;

const msg = (from: string, text: string, at = 1) => ({ from, text, at });
const H = (c: string) => c.repeat(64);

export function mailboxContract(name: string, make: Maker<Mailbox>): void {
  describe(`Mailbox contract: ${name}`, () => {
    test("put gives increasing seqs; peek reads oldest first from a seq, with a limit, removing nothing", async () => {
      const m = await make(new ManualClock());
      const a = await m.put("bob", msg("amy", "one"));
      const b = await m.put("bob", msg("cat", "two", 2));
      const c = await m.put("bob", msg("amy", "three", 3));
      expect(a).toBeLessThan(b);
      expect(b).toBeLessThan(c);
      expect(await m.peek("bob", 0, 10)).toEqual([
        { from: "amy", text: "one", at: 1, seq: a },
        { from: "cat", text: "two", at: 2, seq: b },
        { from: "amy", text: "three", at: 3, seq: c },
      ]);
      expect((await m.peek("bob", a, 1)).map((x) => x.text)).toEqual(["two"]);
      expect(await m.count("bob")).toBe(3);
      expect(await m.peek("amy", 0, 10)).toEqual([]);
      expect(await m.count("amy")).toBe(0);
    });

    test("ack removes up to a seq; later puts get greater seqs than any before", async () => {
      const m = await make(new ManualClock());
      const a = await m.put("bob", msg("amy", "one"));
      const b = await m.put("bob", msg("amy", "two"));
      await m.ack("bob", a);
      expect((await m.peek("bob", 0, 10)).map((x) => x.seq)).toEqual([b]);
      await m.ack("bob", b);
      expect(await m.count("bob")).toBe(0);
      const c = await m.put("bob", msg("amy", "three"));
      expect(c).toBeGreaterThan(b);
      await m.ack("nobody", 99); // nothing there: no error
      expect(await m.peek("bob", 0, 10)).toEqual([{ from: "amy", text: "three", at: 1, seq: c }]);
    });

    test("texts of any characters come back as they went in", async () => {
      const m = await make(new ManualClock());
      const text = 'héllo "quoted" | {tag} \\ 🎉 \n next';
      await m.put("b:{x}", msg("a|b", text));
      expect((await m.peek("b:{x}", 0, 1))[0]).toMatchObject({ from: "a|b", text });
    });
  });
}

export function blockListContract(name: string, make: Maker<BlockList>): void {
  describe(`BlockList contract: ${name}`, () => {
    test("add, has, blockedBy, remove; a block has a direction", async () => {
      const b = await make(new ManualClock());
      expect(await b.has("amy", "bob")).toBe(false);
      expect(await b.add("amy", "bob")).toBe(true);
      expect(await b.add("amy", "bob")).toBe(false);
      expect(await b.add("amy", "cat")).toBe(true);
      expect(await b.has("amy", "bob")).toBe(true);
      expect(await b.has("bob", "amy")).toBe(false);
      expect([...((await b.blockedBy("amy")) ?? [])].sort()).toEqual(["bob", "cat"]);
      expect((await b.blockedBy("bob"))?.size ?? 0).toBe(0);
      expect(await b.remove("amy", "bob")).toBe(true);
      expect(await b.remove("amy", "bob")).toBe(false);
      expect(await b.has("amy", "bob")).toBe(false);
      expect([...((await b.blockedBy("amy")) ?? [])]).toEqual(["cat"]);
    });
  });
}

export const LOCK_MS = 10_000;

export function lockoutContract(name: string, make: Maker<Lockout>): void {
  describe(`Lockout contract: ${name} (block ${LOCK_MS} ms)`, () => {
    test("the 3rd failure in a row locks for the block time; meanwhile even a right password is refused", async () => {
      const clock = new ManualClock();
      const l = await make(clock);
      expect(await l.failure("amy")).toBe("bad_password");
      expect(await l.failure("amy")).toBe("bad_password");
      expect(await l.isBlocked("amy")).toBe(false);
      expect(await l.failure("amy")).toBe("locked_now");
      expect(await l.isBlocked("amy")).toBe(true);
      expect(await l.success("amy")).toBe("blocked");
      expect(await l.failure("amy")).toBe("blocked");
      expect(await l.success("bob")).toBe("ok"); // per username
      clock.advance(LOCK_MS - 1);
      expect(await l.isBlocked("amy")).toBe(true);
      clock.advance(1);
      expect(await l.isBlocked("amy")).toBe(false);
      expect(await l.success("amy")).toBe("ok");
    });

    test("a success resets the count; the count starts again after a lockout", async () => {
      const clock = new ManualClock();
      const l = await make(clock);
      expect(await l.failure("amy")).toBe("bad_password");
      expect(await l.failure("amy")).toBe("bad_password");
      expect(await l.success("amy")).toBe("ok");
      expect(await l.failure("amy")).toBe("bad_password");
      expect(await l.failure("amy")).toBe("bad_password");
      expect(await l.failure("amy")).toBe("locked_now");
      clock.advance(LOCK_MS);
      expect(await l.failure("amy")).toBe("bad_password");
    });
  });
}

const info = (node: string, sid: number, extra: Partial<SessionInfo> = {}): SessionInfo => ({ node, sid, since: 1000, host: "10.0.0.1", ...extra });

export function directoryContract(name: string, make: Maker<Directory>): void {
  describe(`Directory contract: ${name}`, () => {
    test("one session per user: the second claim fails; lookup shows the holder with its peer address", async () => {
      const d = await make(new ManualClock());
      const amy = info("n1", 7, { peerPort: 5000, peerCert: "SHA256:abc" });
      expect(await d.claim("amy", amy)).toBe(true);
      expect(await d.claim("amy", info("n2", 3))).toBe(false);
      expect(await d.lookup("amy")).toEqual(amy);
      expect(await d.lookup("bob")).toBeUndefined();
      expect(await d.claim("bob", info("n2", 3))).toBe(true);
      expect((await d.online()).sort()).toEqual(["amy", "bob"]);
      expect(await d.usersOf("n1")).toEqual(["amy"]);
      expect(await d.usersOf("n3")).toEqual([]);
    });

    test("release frees the name and records when; a release by a session that no longer holds it changes nothing", async () => {
      const d = await make(new ManualClock());
      const first = info("n1", 1);
      await d.claim("amy", first);
      expect(await d.release("amy", first, 5000)).toBe(true);
      expect(await d.lookup("amy")).toBeUndefined();
      expect(await d.online()).toEqual([]);
      const second = info("n2", 2);
      expect(await d.claim("amy", second)).toBe(true);
      expect(await d.release("amy", first, 6000)).toBe(false); // stale: someone else holds it now
      expect(await d.lookup("amy")).toEqual(second);
      await d.claim("bob", info("n1", 4));
      await d.release("bob", info("n1", 4), 9000);
      expect((await d.seenSince(8000)).sort()).toEqual(["amy", "bob"]);
      expect((await d.seenSince(9000)).sort()).toEqual(["amy", "bob"]);
      expect(await d.seenSince(9001)).toEqual(["amy"]);
    });

    test("a session held by a dead server is taken over only by naming it exactly", async () => {
      const d = await make(new ManualClock());
      const stale = info("dead", 1);
      await d.claim("amy", stale);
      expect(await d.claim("amy", info("n2", 2), info("dead", 9))).toBe(false);
      expect(await d.claim("amy", info("n2", 2), stale)).toBe(true);
      expect(await d.claim("amy", info("n3", 3), stale)).toBe(false);
      expect((await d.lookup("amy"))?.node).toBe("n2");
      expect(await d.online()).toEqual(["amy"]);
    });

    test("names of any characters", async () => {
      const d = await make(new ManualClock());
      const odd = "a|b{c}:d e";
      await d.claim(odd, info("n|1", 1, { host: "::1" }));
      expect(await d.lookup(odd)).toEqual(info("n|1", 1, { host: "::1" }));
      expect(await d.online()).toEqual([odd]);
    });
  });
}

export function tokenContract(name: string, make: Maker<TokenStore>): void {
  describe(`TokenStore contract: ${name}`, () => {
    test("a token works once, for its caller and callee only, and is spent by any attempt", async () => {
      const t = await make(new ManualClock());
      const { token } = await t.issue("amy", "bob");
      expect(await t.redeem(token, "amy", "bob")).toBe(true);
      expect(await t.redeem(token, "amy", "bob")).toBe(false);
      const second = (await t.issue("amy", "bob")).token;
      expect(second).not.toBe(token);
      expect(await t.redeem(second, "cat", "bob")).toBe(false);
      expect(await t.redeem(second, "amy", "bob")).toBe(false);
      const third = (await t.issue("amy", "bob")).token;
      expect(await t.redeem(third, "amy", "cat")).toBe(false);
      expect(await t.redeem("made-up", "amy", "bob")).toBe(false);
    });

    test(`a token expires after ${TOKEN_TTL_MS} ms`, async () => {
      const clock = new ManualClock();
      const t = await make(clock);
      const a = (await t.issue("amy", "bob")).token;
      const b = (await t.issue("amy", "bob")).token;
      clock.advance(TOKEN_TTL_MS);
      expect(await t.redeem(a, "amy", "bob")).toBe(true);
      clock.advance(1);
      expect(await t.redeem(b, "amy", "bob")).toBe(false);
    });
  });
}

export function fileIndexContract(name: string, make: Maker<FileIndex>): void {
  describe(`FileIndex contract: ${name}`, () => {
    test("register: new, same, conflict, bad; have; search lists holders with most chunks first", async () => {
      const f = await make(new ManualClock());
      const hashes = [H("a"), H("b"), H("c")];
      const size = 3 * 256 * 1024 - 10;
      expect(await f.register("amy", "film.mkv", size, hashes)).toEqual({ code: "new" });
      expect(await f.register("bob", "film.mkv", size, hashes, [2])).toEqual({ code: "same" });
      expect(await f.register("cat", "film.mkv", size, [H("d"), H("b"), H("c")])).toEqual({ code: "conflict", size, hashes });
      expect((await f.register("cat", "../x", size, hashes)).code).toBe("bad");
      expect(await f.have("bob", "film.mkv", [3])).toBe("ok");
      expect(await f.have("bob", "nothing.txt", [1])).toBe("not_found");
      expect(await f.have("bob", "film.mkv", [4])).toBe("bad");
      expect(await f.search("film.mkv")).toEqual({ size, hashes, users: ["amy", "bob"], maps: ["111", "011"] });
      expect(await f.search("nothing.txt")).toBeUndefined();
    });

    test("a user who leaves holds nothing; a file nobody holds is forgotten", async () => {
      const f = await make(new ManualClock());
      await f.register("amy", "a.txt", 10, [H("e")]);
      await f.register("bob", "a.txt", 10, [H("e")]);
      await f.dropUser("amy");
      expect((await f.search("a.txt"))?.users).toEqual(["bob"]);
      await f.dropUser("bob");
      expect(await f.search("a.txt")).toBeUndefined();
      // Forgotten whole: someone may now register other content under that name.
      expect(await f.register("cat", "a.txt", 20, [H("f")])).toEqual({ code: "new" });
    });
  });
}
