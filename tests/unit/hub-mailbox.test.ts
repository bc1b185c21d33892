/**
 * Acknowledged offline delivery (behaviour.md §5, §8) and store failures, on the pure hub:
 * manual clock, memory store, fake outbox whose links drain only when the test says.
 */
import { describe, expect, test } from "bun:test";
import type { ServerMsg } from "../../src/protocol/messages.ts";
import { BATCH_BYTES } from "../../src/server/delivery.ts";
import { StoreError } from "../../src/server/store.ts";
import { Bench, PASS } from "./hubkit.ts";

type Msg = Extract<ServerMsg, { t: "msg" }>;

/** Connect, hello with protocol version `v`, log `user` in; returns the sid and what the login brought. */
function loginV(b: Bench, user: string, v = 2): { sid: number; got: ServerMsg[] } {
  const sid = b.connect();
  b.hub.receive(sid, { t: "hello", v, app: "termchat" });
  expect(b.out.take(sid)).toEqual([{ t: "hello_ok", v, maxFrame: 64 * 1024 }]);
  b.hub.receive(sid, { t: "login", user, pass: PASS.get(user)! });
  const got = b.out.take(sid);
  expect(got[0]).toEqual({ t: "login_result", code: "ok", user });
  return { sid, got: got.slice(1) };
}

/** Store `n` messages for `to` (offline) straight into the mailbox, texts `${prefix}${i}`. */
function fill(b: Bench, to: string, n: number, prefix = "m", text = ""): void {
  for (let i = 0; i < n; i++) b.store.mailbox.put(to, { from: "yoda", text: `${prefix}${i}${text}`, at: i });
}

const texts = (ms: ServerMsg[]) => ms.map((m) => (m as Msg).text);
const seqs = (ms: ServerMsg[]) => ms.map((m) => (m as Msg).seq);

/** Drain `sid` until the hub stops asking, collecting every message it sent. */
function drainAll(b: Bench, sid: number, first: ServerMsg[]): ServerMsg[] {
  const all = [...first];
  for (let rounds = 0; b.out.drainPending(sid) > 0; rounds++) {
    expect(rounds).toBeLessThan(1000);
    b.out.drain(sid);
    all.push(...b.out.take(sid));
  }
  return all;
}

describe("offline delivery, protocol version 2: acknowledged", () => {
  test("messages carry increasing seqs, oldest first, and stay stored until acked", () => {
    const b = new Bench();
    fill(b, "hans", 3);
    const { got } = loginV(b, "hans");
    expect(got).toEqual([
      { t: "msg", from: "yoda", text: "m0", kind: "offline", seq: 1 },
      { t: "msg", from: "yoda", text: "m1", kind: "offline", seq: 2 },
      { t: "msg", from: "yoda", text: "m2", kind: "offline", seq: 3 },
    ]);
    expect(b.store.mailbox.count("hans")).toBe(3);
  });

  test("ack deletes only up to upTo; no reply; the rest comes again at the next login, in order", () => {
    const b = new Bench();
    fill(b, "hans", 3);
    const { sid } = loginV(b, "hans");
    b.hub.receive(sid, { t: "ack", upTo: 2 });
    expect(b.out.take(sid)).toEqual([]);
    expect(b.store.mailbox.count("hans")).toBe(1);
    b.hub.disconnect(sid);
    const again = loginV(b, "hans");
    expect(again.got).toEqual([{ t: "msg", from: "yoda", text: "m2", kind: "offline", seq: 3 }]);
  });

  test("a connection cut with nothing acked loses nothing: all again, same order", () => {
    const b = new Bench({ maxMailbox: 100 });
    fill(b, "hans", 50);
    const first = loginV(b, "hans");
    expect(texts(first.got)).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
    b.hub.disconnect(first.sid);
    const second = loginV(b, "hans");
    expect(second.got).toEqual(first.got);
  });

  test("an ack beyond what the session was sent is clamped: unsent messages stay", () => {
    const b = new Bench({ maxMailbox: 1000 });
    fill(b, "hans", 300, "m", "x".repeat(4000)); // ~1.2 MB: more than one batch
    const { sid, got } = loginV(b, "hans");
    const sent = got.length;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(300);
    b.hub.receive(sid, { t: "ack", upTo: 1_000_000 });
    expect(b.store.mailbox.count("hans")).toBe(300 - sent);
    // The rest still arrives once the link drains, and can be acked in turn.
    const rest = drainAll(b, sid, []);
    expect(texts([...got, ...rest])).toEqual(Array.from({ length: 300 }, (_, i) => `m${i}${"x".repeat(4000)}`));
    b.hub.receive(sid, { t: "ack", upTo: (rest.at(-1) as Msg).seq! });
    expect(b.store.mailbox.count("hans")).toBe(0);
  });

  test("acks that go backwards or repeat change nothing; an ack with nothing sent deletes nothing", () => {
    const b = new Bench();
    const { sid: h } = loginV(b, "hans");
    // Stored for yoda while hans is online: hans was sent none of it.
    b.ask(h, { t: "message", to: "yoda", text: "for yoda" });
    const y = loginV(b, "yoda");
    expect(texts(y.got)).toEqual(["for yoda"]);
    b.hub.receive(h, { t: "ack", upTo: 99 });
    expect(b.store.mailbox.count("yoda")).toBe(1);
    b.hub.receive(y.sid, { t: "ack", upTo: 0 });
    expect(b.store.mailbox.count("yoda")).toBe(1);
    b.hub.receive(y.sid, { t: "ack", upTo: 1 });
    b.hub.receive(y.sid, { t: "ack", upTo: 1 });
    expect(b.store.mailbox.count("yoda")).toBe(0);
  });

  test("an ack is not activity: the inactivity timeout still comes", () => {
    const b = new Bench();
    fill(b, "hans", 2);
    const { sid } = loginV(b, "hans");
    b.clock.advance(b.cfg.timeoutMs - 1000);
    b.hub.receive(sid, { t: "ack", upTo: 2 });
    b.clock.advance(1000);
    expect(b.out.take(sid)).toEqual([{ t: "kicked", reason: "timeout" }]);
  });

  test("an ack before login gets not_logged_in", () => {
    const b = new Bench();
    const sid = b.greeted();
    b.hub.receive(sid, { t: "ack", upTo: 1 });
    expect(b.out.take(sid)).toEqual([{ t: "error", code: "not_logged_in", detail: "log in first" }]);
  });
});

describe("offline delivery is paced by the link draining", () => {
  test("one batch at login; the next only after whenDrained fires; all in order, none twice", () => {
    const b = new Bench({ maxMailbox: 10_000 });
    const big = "x".repeat(4000);
    fill(b, "hans", 1000, "m", big); // ~4 MB
    const { sid, got } = loginV(b, "hans");
    const batchBytes = got.reduce((n, m) => n + (m as Msg).text.length, 0);
    expect(batchBytes).toBeLessThanOrEqual(BATCH_BYTES + 4100);
    expect(b.out.drainPending(sid)).toBe(1);
    // Nothing more until the link drains, whatever else happens meanwhile.
    b.clock.advance(1000);
    expect(b.out.take(sid)).toEqual([]);
    b.out.drain(sid);
    const second = b.out.take(sid);
    expect(second.length).toBeGreaterThan(0);
    expect((second[0] as Msg).seq).toBe((got.at(-1) as Msg).seq! + 1);
    const all = drainAll(b, sid, [...got, ...second]);
    expect(texts(all)).toEqual(Array.from({ length: 1000 }, (_, i) => `m${i}${big}`));
    expect(new Set(seqs(all)).size).toBe(1000);
    expect(b.out.drainPending(sid)).toBe(0);
  });

  test("a session that leaves mid-backlog: the pending batch sends nothing; the next login starts at the first unacked", () => {
    const b = new Bench({ maxMailbox: 10_000 });
    fill(b, "hans", 400, "m", "y".repeat(4000));
    const first = loginV(b, "hans");
    const n = first.got.length;
    b.hub.receive(first.sid, { t: "ack", upTo: (first.got[9] as Msg).seq! });
    b.hub.disconnect(first.sid);
    b.out.drain(first.sid);
    expect(b.out.take(first.sid)).toEqual([]);
    const second = loginV(b, "hans");
    expect((second.got[0] as Msg).text).toBe(`m10${"y".repeat(4000)}`);
    expect(n).toBeLessThan(400);
    const all = drainAll(b, second.sid, second.got);
    expect(texts(all)).toEqual(Array.from({ length: 390 }, (_, i) => `m${i + 10}${"y".repeat(4000)}`));
  });

  test("a message for a user whose backlog is draining queues behind it; the sender sees ok; later ones go direct", () => {
    const b = new Bench({ maxMailbox: 10_000 });
    fill(b, "hans", 300, "m", "z".repeat(4000));
    const { sid: h, got } = loginV(b, "hans");
    const y = b.online("yoda");
    b.out.take(h); // yoda's presence notice
    expect(b.ask(y, { t: "message", to: "hans", text: "while draining" })).toEqual({ code: "ok" });
    expect(b.out.take(h)).toEqual([]);
    const all = drainAll(b, h, got);
    expect(all.length).toBe(301);
    expect(all.at(-1)).toEqual({ t: "msg", from: "yoda", text: "while draining", kind: "offline", seq: 301 });
    // Backlog done: direct again, not stored.
    expect(b.ask(y, { t: "message", to: "hans", text: "now" })).toEqual({ code: "ok" });
    expect(b.out.take(h)).toEqual([{ t: "msg", from: "yoda", text: "now", kind: "direct" }]);
    expect(b.store.mailbox.count("hans")).toBe(301);
  });
});

describe("offline delivery, protocol version 1: removed when handed over", () => {
  test("no seq; each batch is deleted as it is sent; an ack is ignored", () => {
    const b = new Bench({ maxMailbox: 10_000 });
    fill(b, "hans", 300, "m", "w".repeat(4000));
    const { sid, got } = loginV(b, "hans", 1);
    expect(got.every((m) => m.t === "msg" && m.kind === "offline" && !("seq" in m))).toBe(true);
    expect(b.store.mailbox.count("hans")).toBe(300 - got.length);
    b.hub.receive(sid, { t: "ack", upTo: 1_000_000 });
    expect(b.store.mailbox.count("hans")).toBe(300 - got.length);
    const all = drainAll(b, sid, got);
    expect(texts(all)).toEqual(Array.from({ length: 300 }, (_, i) => `m${i}${"w".repeat(4000)}`));
    expect(b.store.mailbox.count("hans")).toBe(0);
    b.hub.disconnect(sid);
    expect(loginV(b, "hans", 1).got).toEqual([]);
  });
});

describe("a failing store is a storage_failure reply, never a dropped connection", () => {
  const fail = () => {
    throw new StoreError("store message: SQLITE_FULL database or disk is full");
  };

  test("message to an offline user: storage_failure, not stored, the sender stays and can go on", () => {
    const b = new Bench();
    const y = b.online("yoda");
    const put = b.store.mailbox.put;
    b.store.mailbox.put = fail;
    expect(b.ask(y, { t: "message", to: "hans", text: "lost?" })).toEqual({ code: "storage_failure" });
    expect(b.out.closed.has(y)).toBe(false);
    expect(b.whoelse(y)).toEqual([]);
    b.store.mailbox.put = put;
    expect(b.ask(y, { t: "message", to: "hans", text: "kept" })).toEqual({ code: "stored" });
    expect(texts(loginV(b, "hans").got)).toEqual(["kept"]);
  });

  test("a message queued behind a draining backlog that cannot be stored: storage_failure", () => {
    const b = new Bench({ maxMailbox: 10_000 });
    fill(b, "hans", 300, "m", "q".repeat(4000));
    loginV(b, "hans");
    const y = b.online("yoda");
    b.store.mailbox.put = fail;
    expect(b.ask(y, { t: "message", to: "hans", text: "x" })).toEqual({ code: "storage_failure" });
  });

  test("block and unblock: storage_failure, and the block list is unchanged", () => {
    const b = new Bench();
    const h = b.online("hans");
    const add = b.store.blocks.add;
    b.store.blocks.add = fail;
    expect(b.ask(h, { t: "block", user: "yoda" })).toEqual({ code: "storage_failure" });
    expect(b.store.blocks.has("hans", "yoda")).toBe(false);
    b.store.blocks.add = add;
    expect(b.ask(h, { t: "block", user: "yoda" })).toEqual({ code: "ok", user: "yoda" });
    b.store.blocks.remove = fail;
    expect(b.ask(h, { t: "unblock", user: "yoda" })).toEqual({ code: "storage_failure" });
    expect(b.out.closed.has(h)).toBe(false);
  });

  test("a failing ack is only logged: the messages stay and come again", () => {
    const b = new Bench();
    fill(b, "hans", 2);
    const { sid } = loginV(b, "hans");
    const ack = b.store.mailbox.ack;
    b.store.mailbox.ack = fail;
    b.hub.receive(sid, { t: "ack", upTo: 2 });
    expect(b.out.take(sid)).toEqual([]);
    expect(b.out.closed.has(sid)).toBe(false);
    b.store.mailbox.ack = ack;
    b.hub.disconnect(sid);
    expect(texts(loginV(b, "hans").got)).toEqual(["m0", "m1"]);
  });

  test("a mailbox that cannot be read at login: logged in all the same, messages kept for later", () => {
    const b = new Bench();
    fill(b, "hans", 2);
    const peek = b.store.mailbox.peek;
    b.store.mailbox.peek = fail;
    const first = loginV(b, "hans");
    expect(first.got).toEqual([]);
    expect(b.hub.presence.isOnline("hans")).toBe(true);
    b.store.mailbox.peek = peek;
    b.hub.disconnect(first.sid);
    expect(texts(loginV(b, "hans").got)).toEqual(["m0", "m1"]);
  });

  test("a mailbox whose answer comes later (a Redis store): the backlog arrives then; a later failure keeps it for the next login", async () => {
    const b = new Bench();
    fill(b, "hans", 2);
    const peek = b.store.mailbox.peek.bind(b.store.mailbox);
    b.store.mailbox.peek = (to, after, limit) => Promise.resolve().then(() => peek(to, after, limit));
    const first = loginV(b, "hans");
    expect(first.got).toEqual([]);
    await Bun.sleep(0);
    expect(texts(b.out.take(first.sid))).toEqual(["m0", "m1"]);
    b.hub.disconnect(first.sid);
    b.store.mailbox.peek = () => Promise.reject(new StoreError("store peek: connection lost"));
    const second = loginV(b, "hans");
    await Bun.sleep(0);
    expect(b.out.take(second.sid)).toEqual([]);
    expect(b.out.closed.has(second.sid)).toBe(false);
    expect(b.hub.presence.isOnline("hans")).toBe(true);
    b.store.mailbox.peek = peek;
    b.hub.disconnect(second.sid);
    expect(texts(loginV(b, "hans").got)).toEqual(["m0", "m1"]);
  });

  test("a mailbox read that throws something else at login is a bug: it propagates", () => {
    const b = new Bench();
    b.store.mailbox.peek = () => {
      throw new TypeError("bug in peek");
    };
    const sid = b.connect();
    b.hub.receive(sid, { t: "hello", v: 2, app: "termchat" });
    expect(() => b.hub.receive(sid, { t: "login", user: "hans", pass: PASS.get("hans")! })).toThrow("bug in peek");
  });

  test("anything else a store throws is a bug, not a storage failure: it propagates", () => {
    const b = new Bench();
    const y = b.online("yoda");
    b.store.mailbox.put = () => {
      throw new TypeError("bug");
    };
    expect(() => b.hub.receive(y, { t: "message", id: 1, to: "hans", text: "x" })).toThrow("bug");
  });
});
