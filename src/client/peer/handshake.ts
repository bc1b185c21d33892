/**
 * The peer handshake, both sides. Peer links are mutual TLS: each client presents
 * the certificate whose fingerprint it gave the server at login, and the server
 * vouches for it to the other side (the caller gets the callee's with the token, the
 * callee the caller's when it redeems the token). The caller's link checks the
 * callee's certificate during the TLS handshake, before peer_hello is sent (the
 * `expectCert` of Dial); the callee compares the caller's with what peer_check
 * returned before it answers. Who is calling is proved with a one-time token:
 * the server hands the caller a token bound to (caller, callee); the caller shows it
 * in `peer_hello`; the callee asks the server whether it is good before it accepts
 * anything else on the link, then answers `peer_welcome` (or `peer_reject` and
 * closes). Either side gives up after PEER_HANDSHAKE_MS.
 */
import type { Clock } from "../../common/clock.ts";
import type { Logger } from "../../common/logger.ts";
import { KIND_JSON, type Frame } from "../../protocol/frame.ts";
import { decodePeer, encodeMessage, MAX_PEER_FRAME, PEER_PROTOCOL_VERSION, SUPPORTED_VERSIONS } from "../../protocol/messages.ts";
import type { LinkEvents } from "../../net/link.ts";
import { PeerConn, type PeerLink } from "./conn.ts";

/** A link must finish its handshake within this time. */
export const PEER_HANDSHAKE_MS = 5000;

/**
 * Opens a link to host:port whose far end must present the certificate with
 * fingerprint `expectCert` (connectLink over mutual TLS in the program, a fake in tests).
 */
export type Dial = (host: string, port: number, events: LinkEvents, expectCert: string) => Promise<PeerLink>;

/** The server's answer to peer_check: is the token good, and which certificate the caller must have shown. */
export type TokenCheck = { good: boolean; cert?: string };

/** What the handshake needs of the peer registry (peers.ts). */
export interface HandshakeHost {
  readonly clock: Clock;
  readonly log: Logger;
  /** This user's name, once logged in (null before: calls are refused). */
  me(): string | null;
  /** Ask the server whether `token` was issued to `from` for us, and for `from`'s certificate (rejects if it cannot be asked). */
  checkToken(from: string, token: string): Promise<TokenCheck>;
  /** A live session with `user` exists already. */
  linked(user: string): boolean;
  /** The handshake succeeded: make conn the session with its user; returns the session's conn. */
  adopt(conn: PeerConn, iCalled: boolean): PeerConn;
  /** A frame on an authenticated link. */
  frame(conn: PeerConn, f: Frame): void;
  /** An authenticated link is gone. */
  closed(conn: PeerConn): void;
}

/** Caller side: resolves with the session's link once `user` welcomed us; rejects with the reason. */
export function callPeer(
  h: HandshakeHost,
  dial: Dial,
  user: string,
  to: { host: string; port: number; token: string; cert?: string },
): Promise<PeerConn> {
  const { host, port, token, cert } = to;
  // A callee that gave the server no certificate (an older client) cannot be checked: no call.
  if (cert === undefined) return Promise.reject(new Error("the server vouched for no certificate of the callee"));
  return new Promise((resolve, reject) => {
    let conn: PeerConn | null = null;
    let session: PeerConn | null = null;
    let settled = false;
    const timer = h.clock.after(PEER_HANDSHAKE_MS, () => done(new Error("handshake timed out")));
    const done = (err: Error | null) => {
      if (settled) return;
      settled = true;
      timer.cancel();
      if (err) {
        conn?.link.destroy();
        reject(err);
      } else resolve(session!);
    };
    const events: LinkEvents = {
      frame: (f) => {
        if (settled) return h.frame(conn!, f);
        const msg = f.kind === KIND_JSON ? decodePeer(f.body) : "not a message";
        if (typeof msg !== "string" && msg.t === "peer_welcome" && msg.user === user) {
          session = h.adopt(conn!, true);
          return done(null);
        }
        done(new Error(typeof msg === "string" ? msg : msg.t === "peer_reject" ? `rejected: ${msg.reason}` : `unexpected ${msg.t}`));
      },
      close: (reason) => {
        if (!settled) done(new Error(`link closed: ${reason}`));
        else if (conn) h.closed(conn);
      },
    };
    dial(host, port, events, cert)
      .then((link) => {
        // Connected after the call gave up (a slow TLS handshake outlasts PEER_HANDSHAKE_MS):
        // nobody waits for this link, and its frames must not reach the session handlers.
        if (settled) return link.destroy("call given up");
        conn = new PeerConn(user, link);
        link.send(encodeMessage({ t: "peer_hello", v: PEER_PROTOCOL_VERSION, from: h.me()!, token }));
      })
      .catch((e) => done(new Error(`connect ${host}:${port}: ${(e as NodeJS.ErrnoException).code ?? e}`)));
  });
}

/**
 * Callee side: a new link on our listener; nothing but a good peer_hello is accepted
 * first. `settled` is called once, when the link is authenticated or gone (the
 * listener counts pending handshakes with it).
 */
export function acceptPeer(h: HandshakeHost, link: PeerLink, settled: () => void = () => {}): void {
  let conn: PeerConn | null = null;
  let pending = true;
  const settle = () => {
    if (pending) settled();
    pending = false;
  };
  let checking = false;
  const timer = h.clock.after(PEER_HANDSHAKE_MS, () => {
    if (!conn) link.destroy("no handshake");
  });
  const reject = (why: string) => {
    h.log.debug(`peer link from ${link.remoteAddress} rejected: ${why}`);
    timer.cancel();
    link.send(encodeMessage({ t: "peer_reject", reason: "not authorised" }));
    link.end();
  };
  const welcome = (from: string, check: TokenCheck) => {
    checking = false;
    if (!link.isOpen) return;
    if (!check.good) return reject(`bad token from ${JSON.stringify(from)}`);
    // The token may be stolen: only the certificate the server vouches for proves the caller.
    if (check.cert === undefined || check.cert !== link.peerFingerprint) {
      return reject(`certificate ${link.peerFingerprint ?? "(none)"} of ${JSON.stringify(from)} is not the one the server vouches for (${check.cert ?? "none"})`);
    }
    const me = h.me();
    if (me === null || h.linked(from)) return reject(`already linked with ${from}`);
    timer.cancel();
    conn = new PeerConn(from, link);
    // Authenticated: chunk pieces may come now (the listener's links start small).
    link.setMaxFrame(MAX_PEER_FRAME);
    settle();
    conn.send({ t: "peer_welcome", user: me });
    h.adopt(conn, false);
  };
  link.attach({
    frame: (f) => {
      if (conn) return h.frame(conn, f);
      if (checking) return reject("frame before the handshake finished");
      const msg = f.kind === KIND_JSON ? decodePeer(f.body) : "not a message";
      if (typeof msg === "string") return reject(msg);
      if (msg.t !== "peer_hello") return reject(`expected peer_hello, got ${msg.t}`);
      if (!h.me() || !SUPPORTED_VERSIONS.includes(msg.v)) return reject("not ready or wrong version");
      const from = msg.from;
      if (h.linked(from)) return reject(`already linked with ${from}`);
      checking = true;
      h.checkToken(from, msg.token)
        .then((check) => welcome(from, check))
        .catch(() => reject("server unavailable"));
    },
    close: () => {
      timer.cancel();
      settle();
      if (conn) h.closed(conn);
    },
  });
}
