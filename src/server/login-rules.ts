/**
 * The stages before login (SPEC §3): the version handshake, then password checks
 * with per-connection and per-username limits.
 */
import { MAX_SERVER_FRAME, SUPPORTED_VERSIONS, type ClientMsg, type ServerMsg } from "../protocol/messages.ts";
import type { HubContext, Session } from "./hub-context.ts";

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

/** A login attempt; on success the hub takes over (hub.enter). */
export function login(hub: HubContext, s: Session, msg: ClientMsg): void {
  if (msg.t !== "login") {
    hub.log.debug(`session ${s.sid}: ${msg.t} before login`);
    hub.out.send(s.sid, { t: "error", code: "not_logged_in", detail: "log in first" });
    return;
  }
  const verdict = hub.accounts.attempt(msg.user, msg.pass);
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
  hub.enter(s, msg.user, msg.peerPort);
}
