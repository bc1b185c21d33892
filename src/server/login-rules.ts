/**
 * The stages before login (behaviour.md §3): the version handshake, then password checks
 * with per-connection and per-username limits.
 */
import { MAX_SERVER_FRAME, SUPPORTED_VERSIONS, type ClientMsg, type ServerMsg } from "../protocol/messages.ts";
import type { Verdict } from "./accounts.ts";
import type { HubContext, Session } from "./hub-context.ts";

/** Messages one connection may send while its password is verified (a real client sends none). */
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
 * A login attempt; on success the hub takes over (hub.enter). A hashed password's
 * verdict comes later: until it does, what the connection sends waits in `held`
 * (hold), and is then handled in order, as if it had arrived after the verdict.
 */
export function login(hub: HubContext, s: Session, msg: ClientMsg): void {
  if (msg.t !== "login") {
    hub.log.debug(`session ${s.sid}: ${msg.t} before login`);
    hub.out.send(s.sid, { t: "error", code: "not_logged_in", detail: "log in first" });
    return;
  }
  const verdict = hub.accounts.attempt(msg.user, msg.pass);
  if (typeof verdict === "string") return decide(hub, s, msg, verdict);
  s.held = [];
  void verdict.then((v) => {
    const held = s.held ?? [];
    s.held = undefined;
    // Gone or closed meanwhile (pre-login timeout, disconnect): the verdict goes nowhere.
    if (s.stage === "gone" || s.closing) return;
    try {
      decide(hub, s, msg, v);
      for (const m of held) hub.receive(s.sid, m);
    } catch (e) {
      hub.log.debug(`session ${s.sid}: internal error after a login verdict: ${(e as Error).stack ?? e}`);
      hub.drop(s);
    }
  });
}

/** A message that arrived while the connection's password is verified. */
export function hold(hub: HubContext, s: Session, msg: ClientMsg): void {
  if (s.held!.length < MAX_HELD) {
    s.held!.push(msg);
    return;
  }
  hub.log.debug(`session ${s.sid}: more than ${MAX_HELD} messages while its password was checked, closing`);
  hub.out.send(s.sid, { t: "error", code: "protocol", detail: "too many messages before the login result" });
  hub.drop(s);
}

type LoginMsg = Extract<ClientMsg, { t: "login" }>;

function decide(hub: HubContext, s: Session, msg: LoginMsg, verdict: Verdict): void {
  const result = (code: Extract<ServerMsg, { t: "login_result" }>["code"]) =>
    hub.out.send(s.sid, { t: "login_result", code, user: msg.user });
  if (verdict !== "ok") {
    hub.log.debug(`session ${s.sid}: login ${JSON.stringify(msg.user)}: ${verdict}`);
    result(verdict);
    if (verdict === "locked_now" || verdict === "blocked") return hub.drop(s);
    if (++s.attempts >= hub.cfg.maxLoginAttempts) {
      hub.log.debug(`session ${s.sid}: ${s.attempts} failed logins on one connection, closing`);
      return hub.drop(s);
    }
    return;
  }
  if (hub.presence.isOnline(msg.user)) {
    result("already_online");
    return hub.drop(s);
  }
  hub.enter(s, msg.user, msg.peerPort, msg.peerCert);
}
