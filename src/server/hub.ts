/**
 * The server's rules, as a plain class: fed connection events and decoded
 * messages, it answers through an Outbox. No sockets, no bytes, no real time —
 * so every rule of behaviour.md §3–§6 is a unit test with a manual clock. The rules
 * themselves live in login-rules, message-rules and peer-rules; the hub keeps
 * sessions, dispatch, presence notices and the inactivity timer.
 */
import type { Clock } from "../common/clock.ts";
import type { Logger } from "../common/logger.ts";
import type { ClientMsg } from "../protocol/messages.ts";
import { Accounts } from "./accounts.ts";
import type { HubConfig, HubContext, Outbox, Router, Session } from "./hub-context.ts";
import { acknowledge, startDelivery } from "./delivery.ts";
import { hello, login, MAX_HELD as MAX_HELD_PRELOGIN } from "./login-rules.ts";
import { block, broadcast, message, sentWithoutWaiting, unblock, whoelse, whoelseSince } from "./message-rules.ts";
import { fileRequest, peerCheck, peerRequest } from "./peer-rules.ts";
import { isPromise, type MaybePromise } from "./maybe.ts";
import { memoryState } from "./memory-state.ts";
import { NoticeBatch } from "./notice-batch.ts";
import { newSession } from "./session.ts";
import { Presence } from "./presence.ts";
import { announce, background, insist } from "./routed.ts";
import { CachedBlocks } from "./cached-blocks.ts";
import { OnlineMap } from "./online-map.ts";
import { answer, answerRule, sendReply } from "./replies.ts";
import { overlapMessage } from "./pipeline.ts";
import type { Directory, FileIndex, SessionInfo, SharedState, TokenStore } from "./state.ts";
import type { Store } from "./store.ts";

/**
 * Requests one logged-in connection may send while an earlier one waits for the
 * store (a Redis round trip); past it the connection is closed. Generous: the
 * benchmark's clients keep 32 in flight.
 */
export const MAX_HELD = 1024;

export { DEFAULT_LIMITS, type HubConfig, type Outbox } from "./hub-context.ts";

export class Hub implements HubContext {
  readonly accounts: Accounts;
  /** Who is logged in here (the sessions this hub sends to). */
  readonly presence = new Presence();
  /** Who is logged in anywhere, and who was. */
  readonly directory: Directory;
  /** Shared files and who holds which chunk (behaviour.md §6); holders are online users only. */
  readonly files: FileIndex;
  readonly tokens: TokenStore;
  private sessions = new Map<number, Session>();
  readonly store: Store;
  /** A cluster: the block lists of users logged in here, kept here (cached-blocks.ts). */
  private readonly cachedBlocks?: CachedBlocks;
  /** A cluster: who is logged in on the other servers (online-map.ts). */
  readonly elsewhere?: OnlineMap;
  /** Presence notices, batched per window (notice-batch.ts); every send goes through it. */
  readonly notices: NoticeBatch;
  readonly out: Outbox;

  constructor(
    users: Map<string, string>,
    store: Store,
    readonly clock: Clock,
    readonly cfg: HubConfig,
    out: Outbox,
    readonly log: Logger,
    /** Lockout, directory, peer tokens, files: in memory unless given (Redis, for a cluster). */
    shared: SharedState = memoryState(clock, cfg.blockMs),
    /** This server's name in the directory ("" alone). */
    readonly node = "",
    /** The other servers of a cluster (absent alone). */
    readonly router?: Router,
  ) {
    this.notices = new NoticeBatch(out, clock);
    this.out = this.notices;
    this.accounts = new Accounts(users, clock, cfg.blockMs, cfg.verifyPassword, shared.lockout);
    if (router) {
      this.cachedBlocks = new CachedBlocks(store.blocks);
      this.elsewhere = new OnlineMap();
      this.store = { mailbox: store.mailbox, blocks: this.cachedBlocks, close: () => store.close() };
    } else {
      this.store = store;
    }
    this.directory = shared.directory;
    this.files = shared.files;
    this.tokens = shared.tokens;
  }

  /** A new connection from `host`; `transport`: what the transport keeps with it (opaque here, see transport()). */
  connect(sid: number, host: string, transport?: unknown): void {
    const s = newSession(sid, host, transport);
    this.sessions.set(sid, s);
    this.arm(s, this.cfg.preLoginMs);
  }

  /** The connection is gone (closed by either side, or lost). */
  disconnect(sid: number): void {
    const s = this.sessions.get(sid);
    if (!s) return;
    this.sessions.delete(sid);
    this.stopTimer(s);
    if (s.stage === "in") this.leave(s, "disconnected");
    s.stage = "gone";
  }

  /** A protocol violation the transport saw (bad frame, bad message): log and drop. */
  violation(sid: number, why: string): void {
    const s = this.sessions.get(sid);
    if (!s || s.closing) return;
    this.log.debug(`session ${sid}: ${why}`);
    this.out.send(sid, { t: "error", code: "protocol", detail: why.slice(0, 200) });
    this.drop(s);
  }

  /** A message from the session's client; handled in arrival order, per session. */
  receive(sid: number, msg: ClientMsg): void {
    const s = this.sessions.get(sid);
    // A closed link is ended gracefully, so frames the client sent before noticing still
    // arrive; acting on them (a login racing the pre-login timeout) would, for one, empty
    // the mailbox into a link that no longer sends.
    if (!s || s.stage === "gone" || s.closing) return;
    if (s.held) return this.hold(s, msg);
    if (msg.t === "message" && s.stage === "in" && sentWithoutWaiting(this, s.user!, msg) && (s.replies?.size ?? 0) < MAX_HELD) {
      this.touch(s);
      return overlapMessage(this, s, msg, () => this.resume(s), (e) => this.internalError(s, e));
    }
    // Anything else waits until the overlapping messages are all answered.
    if (s.replies && s.replies.size > 0) return void (s.held = [msg]);
    const r = this.handle(s, msg);
    if (!isPromise(r)) return;
    // Waiting for the store: the session's later frames wait behind this one, in order.
    s.held = [];
    r.then(() => this.resume(s), (e) => this.internalError(s, e));
  }

  private internalError(s: Session, e: unknown): void {
    this.log.debug(`session ${s.sid}: internal error: ${(e as Error).stack ?? e}`);
    s.held = undefined;
    this.drop(s);
  }

  private hold(s: Session, msg: ClientMsg): void {
    const pre = s.stage !== "in";
    const max = pre ? MAX_HELD_PRELOGIN : MAX_HELD;
    if (s.held!.length < max) {
      s.held!.push(msg);
      return;
    }
    this.log.debug(`session ${s.sid}: more than ${max} messages waiting, closing`);
    const detail = pre ? "too many messages before the login result" : "too many requests waiting for an answer";
    this.out.send(s.sid, { t: "error", code: "protocol", detail });
    this.drop(s);
  }

  /** The request that waited has been answered: handle what arrived meanwhile, until one waits again. */
  private resume(s: Session): void {
    const held = s.held ?? [];
    s.held = undefined;
    while (held.length > 0) {
      this.receive(s.sid, held.shift()!);
      const again = s.held as ClientMsg[] | undefined;
      if (again) {
        again.push(...held);
        return;
      }
    }
  }

  private handle(s: Session, msg: ClientMsg): MaybePromise<void> {
    const sid = s.sid;
    if (s.stage === "new") return hello(this, s, msg);
    if (s.stage === "hello") return login(this, s, msg);
    // A peer_check or an ack is the client answering, not a command its user typed (behaviour.md §5).
    if (msg.t !== "peer_check" && msg.t !== "ack") this.touch(s);
    const user = s.user!;
    switch (msg.t) {
      case "message":
        return answerRule(this, s, msg.id, message, user, msg);
      case "broadcast":
        return answerRule(this, s, msg.id, broadcast, user, msg);
      case "whoelse":
        return answer(this, s, msg.id, () => whoelse(this, user));
      case "whoelsesince":
        return answer(this, s, msg.id, () => whoelseSince(this, user, msg.seconds));
      case "block":
        return answer(this, s, msg.id, () => block(this, user, msg));
      case "unblock":
        return answer(this, s, msg.id, () => unblock(this, user, msg));
      case "peer_request":
        return answer(this, s, msg.id, () => peerRequest(this, user, msg));
      case "peer_check":
        return answer(this, s, msg.id, () => peerCheck(this, user, msg));
      case "file_register":
      case "file_have":
      case "file_search":
        return answer(this, s, msg.id, () => fileRequest(this, user, msg));
      case "activity":
        return;
      case "ack":
        return acknowledge(this, s, msg.upTo);
      case "logout":
        sendReply(this, s, msg.id, { code: "bye" });
        this.leave(s, "logout");
        return this.drop(s);
      case "hello":
      case "login":
        return this.violation(sid, `${msg.t} after login`);
      default: {
        const never: never = msg;
        throw new Error(`unhandled message ${JSON.stringify(never)}`);
      }
    }
  }

  sessionInfo(s: Session, user: string, peerPort: number | undefined, peerCert: string | undefined): SessionInfo {
    const info: SessionInfo = { node: this.node, sid: s.sid, since: this.clock.now(), host: s.host };
    if (peerPort !== undefined) info.peerPort = peerPort;
    if (peerCert !== undefined) info.peerCert = peerCert;
    return info;
  }

  /** Before `user` enters: what this server keeps of them while they are here (a cluster: their block list). */
  prepare(user: string): MaybePromise<void> {
    return this.cachedBlocks?.load(user);
  }
  unprepare(user: string): void {
    this.cachedBlocks?.forget(user);
  }

  /** A successful login (login-rules), its session claimed: presence, the login result, the mailbox, announcements. */
  enter(s: Session, user: string, info: SessionInfo): void {
    // The pre-login timer stays: touch() below keeps it if it falls due first (it
    // then re-arms for the inactivity deadline), rather than leave a cancelled entry.
    s.stage = "in";
    s.user = user;
    s.info = info;
    // The directory entry serves as the presence entry too (one object per session, not two).
    this.presence.login(user, info);
    this.notices.join(s.sid);
    if (this.log.enabled) this.log.debug(`session ${s.sid}: ${user} logged in from ${s.host}`);
    this.out.send(s.sid, { t: "login_result", code: "ok", user });
    startDelivery(this, s);
    this.announce(user, "in");
    this.touch(s);
  }

  /** What connect() was given for session `sid` (the server's connection), until the hub hears of its end. */
  transport(sid: number): unknown {
    return this.sessions.get(sid)?.transport;
  }

  isDraining(sid: number): boolean {
    return this.sessions.get(sid)?.draining === true;
  }

  drop(s: Session): void {
    s.closing = true;
    this.stopTimer(s);
    this.out.close(s.sid);
  }

  // ---- helpers ----

  /** Tell everyone online, except those `user` has blocked, that `user` came or went. */
  private announce(user: string, state: "in" | "out"): void {
    // In a cluster every server (this one too) shows it when the event comes back.
    if (this.router) return background(this, `presence of ${user}`, () => announce(this, user, state));
    const blocked = this.store.blocks.blockedBy(user);
    if (!isPromise(blocked)) return this.announceHere(user, state, blocked);
    blocked.then(
      (b) => this.announceHere(user, state, b),
      (e) => this.log.debug(`presence of ${user} not announced: ${(e as Error).message}`),
    );
  }

  /** To everyone online here but `user` and those it blocked: only the exceptions are listed, not the recipients (notice-batch.ts). */
  private announceHere(user: string, state: "in" | "out", blocked: ReadonlySet<string> | undefined): void {
    this.notices.announce({ t: "presence", user, state }, this.presence.sessionsOf(user, blocked));
  }

  /**
   * A command: the inactivity deadline moves to now + timeout. The timer is not
   * re-created per command (that was ~8 % of a relaying server's CPU): one due
   * earlier fires, sees the newer activity and re-arms for the rest.
   */
  private touch(s: Session): void {
    const now = this.clock.now();
    s.lastActive = now;
    if (s.timer !== undefined && s.timerAt! <= now + this.cfg.timeoutMs) return;
    this.stopTimer(s);
    this.arm(s, this.cfg.timeoutMs);
  }

  /** A session's one timer (pre-login limit, then inactivity), all through one function: no closure per session. */
  private arm(s: Session, ms: number): void {
    s.timerAt = this.clock.now() + ms;
    s.timer = this.clock.after(ms, this.timerFired, s);
  }

  private stopTimer(s: Session): void {
    s.timer?.cancel();
    s.timer = undefined;
  }

  private readonly timerFired = (s: Session): void => {
    s.timer = undefined;
    if (s.closing) return;
    if (s.stage === "new" || s.stage === "hello") {
      this.log.debug(`session ${s.sid}: no login within ${this.cfg.preLoginMs} ms, closing`);
      this.out.send(s.sid, { t: "error", code: "login_timeout", detail: "no login in time" });
      return this.drop(s);
    }
    if (s.stage !== "in") return;
    const idle = this.clock.now() - s.lastActive!;
    if (idle < this.cfg.timeoutMs) return this.arm(s, this.cfg.timeoutMs - idle);
    this.log.debug(`session ${s.sid}: ${s.user} timed out`);
    this.out.send(s.sid, { t: "kicked", reason: "timeout" });
    this.leave(s, "timeout");
    this.drop(s);
  };

  private leave(s: Session, why: string): void {
    if (s.stage !== "in" || !s.user) return;
    s.stage = "gone";
    this.stopTimer(s);
    const user = s.user;
    this.presence.logout(user);
    this.notices.leave(s.sid);
    this.unprepare(user);
    insist(this, `logout of ${user}`, () => this.directory.release(user, s.info!, this.clock.now()));
    insist(this, `files of ${user}`, () => this.files.dropUser(user));
    this.log.debug(`session ${s.sid}: ${user} logged out (${why})`);
    this.announce(user, "out");
  }
}
