/**
 * A test bench for the hub: manual clock, memory store, silent logger and a fake
 * Outbox that records what each session was sent and whether it was closed.
 * No sockets, no bytes, no real time.
 */
import { afterEach, expect } from "bun:test";
import { ManualClock } from "../../src/common/clock.ts";
import { silentLogger } from "../../src/common/logger.ts";
import type { ClientMsg, LOGIN_CODES, ServerMsg } from "../../src/protocol/messages.ts";
import { Hub, type HubConfig, type Outbox } from "../../src/server/hub.ts";
import { memoryStore, type Store } from "../../src/server/store.ts";

export const USERS: [string, string][] = [
  ["hans", "falcon"],
  ["yoda", "wise"],
  ["luke", "jedi"],
  ["vader", "darkside"],
  ["r2d2", "beepboop"],
];
export const PASS = new Map(USERS);

export const CFG: HubConfig = {
  blockMs: 10_000,
  timeoutMs: 60_000,
  preLoginMs: 5_000,
  maxLoginAttempts: 5,
  maxMailbox: 3,
};

export class FakeOutbox implements Outbox {
  private boxes = new Map<number, ServerMsg[]>();
  readonly closed = new Set<number>();
  /** Messages sent to a session after it was closed (should stay empty). */
  readonly afterClose: { sid: number; msg: ServerMsg }[] = [];

  send(sid: number, msg: ServerMsg): void {
    if (this.closed.has(sid)) this.afterClose.push({ sid, msg });
    let box = this.boxes.get(sid);
    if (!box) this.boxes.set(sid, (box = []));
    box.push(msg);
  }
  sendMany(sids: number[], msg: ServerMsg): void {
    for (const sid of sids) this.send(sid, msg);
  }
  sendRun(sid: number, list: readonly ServerMsg[], from: number, to: number): void {
    // The batcher never sends an empty run; a run is one send of the server's.
    expect(from).toBeLessThan(to);
    this.runs++;
    for (let i = from; i < to; i++) this.send(sid, list[i]!);
  }
  /** How many runs of notices were sent (to all sessions). */
  runs = 0;
  /**
   * Called before anything is read: a hub's bench ends the presence notice window
   * here (hub.notices.flush()), so tests read what a session has been sent once the
   * notices announced so far went out (the window itself: notice-batch.test.ts).
   */
  settle: () => void = () => {};
  close(sid: number): void {
    this.closed.add(sid);
  }
  /** whenDrained callbacks not yet fired, per session (the test decides when a link drains). */
  private drainWaiters = new Map<number, (() => void)[]>();
  whenDrained(sid: number, fn: () => void): void {
    let w = this.drainWaiters.get(sid);
    if (!w) this.drainWaiters.set(sid, (w = []));
    w.push(fn);
  }
  /** How many whenDrained callbacks wait for `sid`. */
  drainPending(sid: number): number {
    return this.drainWaiters.get(sid)?.length ?? 0;
  }
  /** `sid`'s link has room again: fire its waiting callbacks (those they add wait for the next drain). */
  drain(sid: number): void {
    const w = this.drainWaiters.get(sid) ?? [];
    this.drainWaiters.delete(sid);
    for (const fn of w) fn();
  }
  /** What `sid` was sent since the last take, and forget it. */
  take(sid: number): ServerMsg[] {
    this.settle();
    const box = this.boxes.get(sid) ?? [];
    this.boxes.delete(sid);
    return box;
  }
  /** What `sid` was sent from position `from` of its outbox on, and forget just that. */
  takeFrom(sid: number, from: number): ServerMsg[] {
    this.settle();
    return this.boxes.get(sid)?.splice(from) ?? [];
  }
  /** What `sid` was sent since the last take, without forgetting it. */
  peek(sid: number): ServerMsg[] {
    this.settle();
    return [...(this.boxes.get(sid) ?? [])];
  }
}

export class Bench {
  readonly clock = new ManualClock();
  readonly store: Store = memoryStore();
  readonly out = new FakeOutbox();
  readonly cfg: HubConfig;
  readonly hub: Hub;
  private nextSid = 1;
  private nextId = 1;

  constructor(cfg: Partial<HubConfig> = {}) {
    this.cfg = { ...CFG, ...cfg };
    this.hub = new Hub(new Map(USERS), this.store, this.clock, this.cfg, this.out, silentLogger);
    this.out.settle = () => this.hub.notices.flush();
  }

  /** A new connection; returns its sid. */
  connect(host = "10.0.0.1"): number {
    const sid = this.nextSid++;
    this.hub.connect(sid, host);
    return sid;
  }

  /** A new connection that has said hello; its outbox is empty. */
  greeted(host?: string): number {
    const sid = this.connect(host);
    this.hub.receive(sid, { t: "hello", v: 1, app: "termchat" });
    expect(this.out.take(sid)).toEqual([{ t: "hello_ok", v: 1, maxFrame: 64 * 1024 }]);
    return sid;
  }

  /** Send a login on `sid` and return what came back (the login_result and anything after it). */
  login(sid: number, user: string, pass: string, peerPort?: number): ServerMsg[] {
    const msg: ClientMsg = peerPort === undefined ? { t: "login", user, pass } : { t: "login", user, pass, peerPort };
    this.hub.receive(sid, msg);
    return this.out.take(sid);
  }

  /** Connect, hello and log `user` in with the right password; returns the sid with an empty outbox. */
  online(user: string, opts: { peerPort?: number; host?: string } = {}): number {
    const sid = this.greeted(opts.host);
    const got = this.login(sid, user, PASS.get(user)!, opts.peerPort);
    expect(got[0]).toEqual({ t: "login_result", code: "ok", user });
    expect(this.out.closed.has(sid)).toBe(false);
    return sid;
  }

  /**
   * Send a request (an id is filled in) and return the single reply; the request must
   * bring the session nothing else. What was waiting in its outbox before stays there.
   */
  ask(sid: number, req: DistributiveOmit<Exclude<ClientMsg, { t: "hello" | "login" | "activity" }>, "id">): Reply {
    const id = this.nextId++;
    const before = this.out.peek(sid).length;
    this.hub.receive(sid, { ...req, id } as ClientMsg);
    const got = this.out.takeFrom(sid, before);
    expect(got.length).toBe(1);
    const r = got[0]!;
    expect(r.t).toBe("reply");
    const { t: _t, id: rid, ...rest } = r as Extract<ServerMsg, { t: "reply" }>;
    expect(rid).toBe(id);
    return rest;
  }

  /** The names `sid` gets from whoelse, sorted. */
  whoelse(sid: number): string[] {
    const r = this.ask(sid, { t: "whoelse" });
    expect(r.code).toBe("users");
    return [...r.users!].sort();
  }

  /** The names `sid` gets from whoelsesince, sorted. */
  since(sid: number, seconds: number): string[] {
    const r = this.ask(sid, { t: "whoelsesince", seconds });
    expect(r.code).toBe("users");
    return [...r.users!].sort();
  }

  /** Every session's outbox is empty. */
  quiet(...sids: number[]): void {
    for (const sid of sids) expect({ sid, got: this.out.peek(sid) }).toEqual({ sid, got: [] });
  }
}

/**
 * The `bench()` of one test file: makes benches and checks every one of them after
 * each test, because nothing may ever be sent to a session the hub has closed. Call it
 * once, at the top level of the file (it registers an afterEach there).
 */
export function checkedBenches(): (cfg?: Partial<HubConfig>) => Bench {
  let benches: Bench[] = [];
  afterEach(() => {
    for (const b of benches) expect(b.out.afterClose).toEqual([]);
    benches = [];
  });
  return (cfg = {}) => {
    const b = new Bench(cfg);
    benches.push(b);
    return b;
  };
}

/** The messages tests expect the hub to send. */
export const msg = (from: string, text: string, kind: "direct" | "broadcast" | "offline"): ServerMsg => ({
  t: "msg",
  from,
  text,
  kind,
});
export const pres = (user: string, state: "in" | "out"): ServerMsg => ({ t: "presence", user, state });
export const result = (code: (typeof LOGIN_CODES)[number], user: string): ServerMsg => ({ t: "login_result", code, user });

export type Reply = Omit<Extract<ServerMsg, { t: "reply" }>, "t" | "id">;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
