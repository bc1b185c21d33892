/**
 * The stages before login (behaviour.md §3): the version handshake, then password checks
 * with per-connection and per-username limits.
 */
import { MAX_SERVER_FRAME, SUPPORTED_VERSIONS, type ClientMsg, type ServerMsg } from "../protocol/messages.ts";
import type { Verdict } from "./accounts.ts";
import type { HubContext, Session } from "./hub-context.ts";
import { isPromise, then, type MaybePromise } from "./maybe.ts";
import { isOutage } from "./cluster/errors.ts";
import { insist } from "./routed.ts";
import type { SessionInfo } from "./state.ts";

/** Messages one connection may send while its login is decided (a real client sends none); the hub holds them. */
export const MAX_HELD = 32;

/** The first frame of a connection must be `hello` in a version this server speaks. */
export function hello(hub: HubContext, s: Session, msg: ClientMsg): void {
  if (msg.t !== "hello") {
    hub.log.debug(`session ${s.sid}: expected hello, got ${msg.t}`);
    hub.out.send(s.sid, { t: "error", code: "protocol", detail: `expected hello, got ${msg.t}` });
    return hub.drop(s);
  }
  if (!SUPPORTED_VERSIONS.includes(msg.v)) {
    hub.out.send(s.sid, { t: "error", code: "version", detail: `server speaks versions ${SUPPORTED_VERSIONS.join(", ")}` });
    return hub.drop(s);
  }
  // The session speaks the client's version (an older client gets the older rules).
  s.stage = "hello";
  s.v = msg.v;
  hub.out.send(s.sid, { t: "hello_ok", v: msg.v, maxFrame: MAX_SERVER_FRAME });
}

/**
 * A login attempt; on success the hub takes over (hub.enter). The verdict and the
 * session claim may come from a store that answers later: the hub holds the
 * connection's later frames until this settles (hub.ts).
 */
export function login(hub: HubContext, s: Session, msg: ClientMsg): MaybePromise<void> {
  if (msg.t !== "login") {
    hub.log.debug(`session ${s.sid}: ${msg.t} before login`);
    hub.out.send(s.sid, { t: "error", code: "not_logged_in", detail: "log in first" });
    return;
  }
  // Each step goes on at once when its answer is ready (the memory state): no closure, no `then`, on a one-node login.
  const verdict = hub.accounts.attempt(msg.user, msg.pass);
  const r = isPromise(verdict) ? verdict.then((v) => decide(hub, s, msg, v)) : decide(hub, s, msg, verdict);
  if (!isPromise(r)) return r;
  // The shared state is unreachable (a cluster's Redis): no verdict; the user may try again.
  return r.catch((e) => {
    if (!isOutage(e)) throw e;
    hub.log.debug(`session ${s.sid}: login ${JSON.stringify(msg.user)}: shared state unavailable: ${(e as Error).message}`);
    hub.out.send(s.sid, { t: "login_result", code: "busy", user: msg.user });
  });
}

type LoginMsg = Extract<ClientMsg, { t: "login" }>;

/** The claim is ours but the login may still fail (Redis lost): then the claim is given back, not left stuck. */
function kept(hub: HubContext, step: MaybePromise<void>, user: string, info: SessionInfo): MaybePromise<void> {
  if (!isPromise(step)) return step;
  return step.catch((e) => {
    hub.unprepare(user);
    insist(hub, `login of ${user} given back`, () => hub.directory.release(user, info, hub.clock.now()));
    throw e;
  });
}

/**
 * Claim the user's session. In a cluster, a session still held by a server known
 * dead (not yet cleaned up by the others) is taken over, compare-and-set, so a user
 * whose server crashed can log in again through another at once.
 */
function claim(hub: HubContext, user: string, info: SessionInfo): MaybePromise<boolean> {
  const won = hub.directory.claim(user, info);
  if (won === true || !hub.router) return won;
  return then(won, (won) => {
    if (won) return won;
    return then(hub.directory.lookup(user), (holder) => {
      if (!holder || holder.node === hub.node) return holder ? false : hub.directory.claim(user, info);
      return hub.router!.isGone(holder.node).then((gone) => (gone ? hub.directory.claim(user, info, holder) : false));
    });
  });
}

function result(hub: HubContext, s: Session, msg: LoginMsg, code: Extract<ServerMsg, { t: "login_result" }>["code"]): void {
  hub.out.send(s.sid, { t: "login_result", code, user: msg.user });
}

function decide(hub: HubContext, s: Session, msg: LoginMsg, verdict: Verdict): MaybePromise<void> {
  // Gone or closed meanwhile (pre-login timeout, disconnect): the verdict goes nowhere.
  if (s.stage === "gone" || s.closing) return;
  if (verdict !== "ok") {
    hub.log.debug(`session ${s.sid}: login ${JSON.stringify(msg.user)}: ${verdict}`);
    result(hub, s, msg, verdict);
    if (verdict === "locked_now" || verdict === "blocked") return hub.drop(s);
    if (++s.attempts >= hub.cfg.maxLoginAttempts) {
      hub.log.debug(`session ${s.sid}: ${s.attempts} failed logins on one connection, closing`);
      return hub.drop(s);
    }
    return;
  }
  const info = hub.sessionInfo(s, msg.user, msg.peerPort, msg.peerCert);
  const claimed = claim(hub, msg.user, info);
  if (!isPromise(claimed)) return claimedOrNot(hub, s, msg, info, claimed);
  return claimed.then((c) => claimedOrNot(hub, s, msg, info, c));
}

function claimedOrNot(hub: HubContext, s: Session, msg: LoginMsg, info: SessionInfo, claimed: boolean): MaybePromise<void> {
  if (!claimed) {
    result(hub, s, msg, "already_online");
    return hub.drop(s);
  }
  const prepared = kept(hub, hub.prepare(msg.user), msg.user, info);
  if (!isPromise(prepared)) return enterOrGiveBack(hub, s, msg, info);
  return prepared.then(() => enterOrGiveBack(hub, s, msg, info));
}

function enterOrGiveBack(hub: HubContext, s: Session, msg: LoginMsg, info: SessionInfo): MaybePromise<void> {
  // Gone meanwhile (disconnect, pre-login timeout): give the claim back.
  if (s.stage !== "hello" || s.closing) {
    hub.unprepare(msg.user);
    return then(hub.directory.release(msg.user, info, hub.clock.now()), () => {});
  }
  hub.enter(s, msg.user, info);
}
