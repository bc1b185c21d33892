/**
 * The hub over state that answers later (as Redis does): every store and state
 * call resolves in a later microtask. Two hubs sharing one such state stand for two
 * servers of a cluster: the rules that only need shared state hold between them.
 * Requests of one session are answered in the order they were sent.
 */
import { describe, expect, test } from "bun:test";
import { ManualClock } from "../../src/common/clock.ts";
import { silentLogger } from "../../src/common/logger.ts";
import type { ClientMsg, ServerMsg } from "../../src/protocol/messages.ts";
import { Hub } from "../../src/server/hub.ts";
import { memoryState } from "../../src/server/memory-state.ts";
import type { SharedState } from "../../src/server/state.ts";
import type { Router } from "../../src/server/hub-context.ts";
import { reapNode, resyncOnline, routedIn } from "../../src/server/routed.ts";
import { RedisUnavailable } from "../../src/server/cluster/errors.ts";
import { memoryStore, StoreError, type Store } from "../../src/server/store.ts";
import { CFG, FakeOutbox, PASS, USERS } from "./hubkit.ts";

/** `obj` with every method answering through a promise (run in a later microtask). */
function later<T extends object>(obj: T, fail?: { on: string | null; outage?: boolean }): T {
  return new Proxy(obj, {
    get(target, key, recv) {
      const v = Reflect.get(target, key, recv);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) =>
        Promise.resolve().then(() => {
          if (fail?.outage) throw new RedisUnavailable("closed");
          if (fail?.on === key) throw new StoreError(`${String(key)} failed`);
          return v.apply(target, args);
        });
    },
  });
}

/** Let every pending promise settle. */
const settle = () => Bun.sleep(0);

class Node {
  readonly out = new FakeOutbox();
  readonly hub: Hub;
  private sid = 1;
  private id = 1;
  constructor(clock: ManualClock, store: Store, shared: SharedState, name: string, router?: Router) {
    this.hub = new Hub(new Map(USERS), store, clock, { ...CFG, maxMailbox: 10 }, this.out, silentLogger, shared, name, router);
    this.out.settle = () => this.hub.notices.flush();
  }
  async login(user: string, pass = PASS.get(user)!): Promise<{ sid: number; got: ServerMsg[] }> {
    const sid = this.sid++;
    this.hub.connect(sid, "10.0.0.1");
    this.hub.receive(sid, { t: "hello", v: 2, app: "termchat" });
    this.hub.receive(sid, { t: "login", user, pass, peerPort: 7000 });
    await settle();
    const got = this.out.take(sid).filter((m) => m.t !== "hello_ok");
    return { sid, got };
  }
  /** Send requests (ids filled in) without waiting, then the replies in the order they came (presence notices aside). */
  async ask(sid: number, ...reqs: Record<string, unknown>[]): Promise<ServerMsg[]> {
    for (const r of reqs) this.hub.receive(sid, { ...r, id: this.id++ } as ClientMsg);
    await settle();
    return this.out.take(sid).filter((m) => m.t !== "presence");
  }
}

/** The bus between nodes, in process: events arrive in a later microtask; a node in `dead` is gone. */
class FakeBus {
  readonly nodes = new Map<string, Node>();
  readonly dead = new Set<string>();
  outage = false;
  /**
   * Set: sendTo hands the event over at once (as the real bus fixes the order when
   * send() is called) and its outcome waits here until the test settles it.
   */
  deferred: ((r: "sent") => void)[] | null = null;
  routerFor(): Router {
    const later = <T>(f: () => T) =>
      Promise.resolve().then(() => {
        if (this.outage) throw new RedisUnavailable("closed");
        return f();
      });
    return {
      sendTo: (node, e) => {
        if (!this.deferred) return later(() => (this.dead.has(node) ? "gone" : (routedIn(this.nodes.get(node)!.hub, e), "sent")));
        routedIn(this.nodes.get(node)!.hub, e);
        return new Promise((resolve) => this.deferred!.push(resolve));
      },
      publish: (e) => later(() => this.nodes.forEach((n, id) => this.dead.has(id) || routedIn(n.hub, e))),
      isGone: (node) => later(() => this.dead.has(node)),
    };
  }
}

function cluster(fail?: { on: string | null; outage?: boolean }, bus?: FakeBus) {
  const clock = new ManualClock();
  const mem = memoryState(clock, CFG.blockMs);
  const shared: SharedState = {
    lockout: later(mem.lockout),
    directory: later(mem.directory, fail),
    tokens: later(mem.tokens),
    files: later(mem.files),
  };
  const inner = memoryStore();
  const store: Store = { mailbox: later(inner.mailbox, fail), blocks: later(inner.blocks, fail), close() {} };
  const a = new Node(clock, store, shared, "a", bus?.routerFor());
  const b = new Node(clock, store, shared, "b", bus?.routerFor());
  bus?.nodes.set("a", a).set("b", b);
  return { clock, a, b };
}

const codes = (ms: ServerMsg[]) => ms.map((m) => (m.t === "reply" ? m.code : m.t));

describe("hub over asynchronous state", () => {
  test("one session's requests are answered in the order sent, each after the store answered", async () => {
    const { a } = cluster();
    const { sid } = await a.login("hans");
    const got = await a.ask(
      sid,
      { t: "message", to: "yoda", text: "1" },
      { t: "block", user: "luke" },
      { t: "message", to: "luke", text: "2" },
      { t: "whoelse" },
      { t: "unblock", user: "luke" },
    );
    expect(got.map((m) => (m as { id: number }).id)).toEqual([1, 2, 3, 4, 5]);
    expect(codes(got)).toEqual(["stored", "ok", "stored", "users", "ok"]);
  });

  test("the same user cannot be logged in through two servers", async () => {
    const { a, b } = cluster();
    expect((await a.login("hans")).got[0]).toEqual({ t: "login_result", code: "ok", user: "hans" });
    const second = await b.login("hans");
    expect(second.got).toEqual([{ t: "login_result", code: "already_online", user: "hans" }]);
    expect(b.out.closed.has(second.sid)).toBe(true);
  });

  test("failed logins count across servers", async () => {
    const { a, b } = cluster();
    expect((await a.login("hans", "x")).got).toEqual([{ t: "login_result", code: "bad_password", user: "hans" }]);
    expect((await b.login("hans", "y")).got).toEqual([{ t: "login_result", code: "bad_password", user: "hans" }]);
    expect((await a.login("hans", "z")).got).toEqual([{ t: "login_result", code: "locked_now", user: "hans" }]);
    expect((await b.login("hans")).got).toEqual([{ t: "login_result", code: "blocked", user: "hans" }]);
  });

  test("stored through one server, delivered and acknowledged through another; a block holds on both", async () => {
    const { a, b } = cluster();
    const { sid: hans } = await a.login("hans");
    expect(codes(await a.ask(hans, { t: "message", to: "yoda", text: "hello" }))).toEqual(["stored"]);
    const yoda = await b.login("yoda");
    expect(yoda.got.slice(1)).toMatchObject([{ t: "msg", from: "hans", text: "hello", kind: "offline" }]);
    const seq = (yoda.got[1] as { seq: number }).seq;
    await b.ask(yoda.sid, { t: "ack", upTo: seq });
    expect(codes(await b.ask(yoda.sid, { t: "block", user: "hans" }))).toEqual(["ok"]);
    expect(codes(await a.ask(hans, { t: "message", to: "yoda", text: "again" }))).toEqual(["blocked_you"]);
    b.hub.disconnect(yoda.sid);
    await settle();
    // Acknowledged, so not delivered again; the block hides yoda from hans.
    expect((await a.login("yoda")).got).toEqual([{ t: "login_result", code: "ok", user: "yoda" }]);
  });

  test("whoelse and whoelsesince see users of every server; a peer token issued by one is redeemed through another", async () => {
    const { a, b, clock } = cluster();
    const { sid: hans } = await a.login("hans");
    const yoda = await b.login("yoda");
    const luke = await b.login("luke");
    b.hub.disconnect(luke.sid);
    await settle();
    clock.advance(5000);
    const [who, since] = await a.ask(hans, { t: "whoelse" }, { t: "whoelsesince", seconds: 10 });
    expect((who as { users: string[] }).users).toEqual(["yoda"]);
    expect([...(since as { users: string[] }).users].sort()).toEqual(["luke", "yoda"]);
    const [peer] = await a.ask(hans, { t: "peer_request", user: "yoda" });
    expect(peer).toMatchObject({ code: "peer", host: "10.0.0.1", port: 7000 });
    const token = (peer as { token: string }).token;
    const [check] = await b.ask(yoda.sid, { t: "peer_check", user: "hans", token });
    expect(check).toMatchObject({ code: "token_ok", user: "hans" });
  });

  test("a store that fails asynchronously: storage_failure, the connection kept, later requests answered", async () => {
    const fail = { on: null as string | null };
    const { a } = cluster(fail);
    const { sid } = await a.login("hans");
    fail.on = "count";
    const got = await a.ask(sid, { t: "message", to: "yoda", text: "x" }, { t: "whoelse" });
    expect(codes(got)).toEqual(["storage_failure", "users"]);
    expect(a.out.closed.has(sid)).toBe(false);
  });
});

describe("hub in a cluster (a bus between two hubs)", () => {
  test("messages, broadcasts (skipping blockers) and presence reach users of the other server", async () => {
    const bus = new FakeBus();
    const { a, b } = cluster(undefined, bus);
    const hans = await a.login("hans");
    const yoda = await b.login("yoda");
    expect(a.out.take(hans.sid)).toEqual([{ t: "presence", user: "yoda", state: "in" }]);
    expect(codes(await a.ask(hans.sid, { t: "message", to: "yoda", text: "hi" }))).toEqual(["ok"]);
    expect(b.out.take(yoda.sid)).toEqual([{ t: "msg", from: "hans", text: "hi", kind: "direct" }]);
    const luke = await b.login("luke");
    await b.ask(luke.sid, { t: "block", user: "hans" });
    expect(codes(await a.ask(hans.sid, { t: "broadcast", text: "all" }))).toEqual(["partial"]);
    expect(b.out.take(yoda.sid)).toEqual([
      { t: "presence", user: "luke", state: "in" },
      { t: "msg", from: "hans", text: "all", kind: "broadcast" },
    ]);
    expect(b.out.take(luke.sid).filter((m) => m.t === "msg")).toEqual([]);
  });

  test("between two users of one server, a message needs no store round trip (their block lists are kept here); a block still holds", async () => {
    const bus = new FakeBus();
    const { a } = cluster(undefined, bus);
    const hans = await a.login("hans");
    const luke = await a.login("luke");
    a.hub.receive(hans.sid, { t: "message", to: "luke", text: "now", id: 99 } as ClientMsg);
    expect(a.out.take(hans.sid).filter((m) => m.t === "reply")).toEqual([{ t: "reply", id: 99, code: "ok" }]); // no await
    expect(a.out.take(luke.sid)).toEqual([{ t: "msg", from: "hans", text: "now", kind: "direct" }]);
    expect(codes(await a.ask(luke.sid, { t: "block", user: "hans" }))).toEqual(["ok"]);
    expect(codes(await a.ask(hans.sid, { t: "message", to: "luke", text: "again" }))).toEqual(["blocked_you"]);
  });

  test("messages to a user of another server overlap: delivered in order, replies in request order whatever order the bus answers in, other requests wait", async () => {
    const bus = new FakeBus();
    const { a, b } = cluster(undefined, bus);
    const yoda = await b.login("yoda");
    const hans = await a.login("hans");
    expect(a.hub.elsewhere?.where("yoda")?.node).toBe("b"); // learnt from yoda's login event
    bus.deferred = [];
    const sent = ["1", "2", "3", "4"].map((text, i) => ({ t: "message", to: "yoda", text, id: 100 + i }) as ClientMsg);
    for (const m of sent) a.hub.receive(hans.sid, m);
    a.hub.receive(hans.sid, { t: "whoelse", id: 104 } as ClientMsg);
    a.hub.receive(hans.sid, { t: "message", to: "yoda", text: "5", id: 105 } as ClientMsg);
    // All four were sent without waiting for each other; the whoelse (and what follows it) waits.
    expect(bus.deferred.length).toBe(4);
    expect(b.out.take(yoda.sid).flatMap((m) => (m.t === "msg" ? [m.text] : []))).toEqual(["1", "2", "3", "4"]);
    const defer = bus.deferred;
    bus.deferred = null;
    defer[3]!("sent");
    defer[1]!("sent");
    await settle();
    expect(a.out.take(hans.sid)).toEqual([]); // the first reply is not ready: none goes out
    defer[0]!("sent");
    defer[2]!("sent");
    await settle();
    await settle();
    const replies = a.out.take(hans.sid).filter((m) => m.t === "reply");
    expect(replies.map((m) => (m.t === "reply" ? `${m.id} ${m.code}` : ""))).toEqual(["100 ok", "101 ok", "102 ok", "103 ok", "104 users", "105 ok"]);
    expect(b.out.take(yoda.sid).map((m) => (m.t === "msg" ? m.text : m.t))).toEqual(["5"]);
  });

  test("a block made on another server: refused from the map once its event arrived; before that, its server drops the message", async () => {
    const bus = new FakeBus();
    const { a, b } = cluster(undefined, bus);
    const luke = await b.login("luke");
    const hans = await a.login("hans");
    expect(codes(await b.ask(luke.sid, { t: "block", user: "hans" }))).toEqual(["ok"]);
    expect(codes(await a.ask(hans.sid, { t: "message", to: "luke", text: "x" }))).toEqual(["blocked_you"]);
    // The block event not yet seen on a (a lagging reader): sent, but luke never sees it.
    a.hub.elsewhere!.blocks("luke", "b", []);
    expect(codes(await a.ask(hans.sid, { t: "message", to: "luke", text: "y" }))).toEqual(["ok"]);
    expect(b.out.take(luke.sid).filter((m) => m.t === "msg")).toEqual([]);
    // luke's logout removes him from a's map: a message is then looked up and stored.
    await b.ask(luke.sid, { t: "unblock", user: "hans" }, { t: "logout" });
    expect(a.hub.elsewhere!.where("luke")).toBeUndefined();
    expect(codes(await a.ask(hans.sid, { t: "message", to: "luke", text: "z" }))).toEqual(["stored"]);
  });

  test("a server that starts after users logged in elsewhere learns where they are from the shared state (resync)", async () => {
    const bus = new FakeBus();
    const { a, b } = cluster(undefined, bus);
    const hans = await a.login("hans");
    await a.ask(hans.sid, { t: "block", user: "luke" });
    b.hub.elsewhere!.nodeGone("a"); // as if b had started after hans's login event
    expect(b.hub.elsewhere!.where("hans")).toBeUndefined();
    await resyncOnline(b.hub, ["a", "b"]);
    expect(b.hub.elsewhere!.where("hans")?.node).toBe("a");
    expect([...b.hub.elsewhere!.where("hans")!.blocks]).toEqual(["luke"]);
    const luke = await b.login("luke");
    expect(codes(await b.ask(luke.sid, { t: "message", to: "hans", text: "x" }))).toEqual(["blocked_you"]);
  });

  test("a dead server: its users' sessions are taken over at login, released by the reap, messages on their way stored", async () => {
    const bus = new FakeBus();
    const { a, b } = cluster(undefined, bus);
    const hans = await a.login("hans");
    await b.login("yoda");
    bus.dead.add("b");
    expect(codes(await a.ask(hans.sid, { t: "message", to: "yoda", text: "lost?" }))).toEqual(["stored"]);
    await reapNode(a.hub, "b", [{ event: { t: "dm", to: "yoda", from: "hans", text: "in flight" } }]);
    await settle();
    expect(a.out.take(hans.sid)).toContainEqual({ t: "presence", user: "yoda", state: "out" });
    const again = await a.login("yoda");
    expect(again.got.map((m) => (m.t === "msg" ? m.text : m.t))).toEqual(["login_result", "lost?", "in flight"]);
  });

  test("the bus unavailable: the request is answered busy, the connection kept, later requests served", async () => {
    const bus = new FakeBus();
    const { a } = cluster(undefined, bus);
    const hans = await a.login("hans");
    bus.outage = true;
    expect(codes(await a.ask(hans.sid, { t: "broadcast", text: "x" }, { t: "whoelse" }))).toEqual(["busy", "users"]);
    expect(a.out.closed.has(hans.sid)).toBe(false);
    bus.outage = false;
    expect(codes(await a.ask(hans.sid, { t: "broadcast", text: "y" }))).toEqual(["ok"]);
  });

  test("a logout while Redis is away is recorded once it is back (the user can log in again)", async () => {
    const fail = { on: null as string | null, outage: false };
    const { a, b, clock } = cluster(fail, new FakeBus());
    const hans = await a.login("hans");
    fail.outage = true;
    a.hub.disconnect(hans.sid);
    await settle();
    fail.outage = false;
    expect((await b.login("hans")).got).toEqual([{ t: "login_result", code: "already_online", user: "hans" }]);
    clock.advance(1000); // the release is tried again
    await settle();
    expect((await b.login("hans")).got[0]).toEqual({ t: "login_result", code: "ok", user: "hans" });
  });
});
