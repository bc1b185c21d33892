/**
 * Peer to peer (behaviour.md §6): this client's listener and its authenticated direct links
 * to other users, one session per user. Private chat (chat.ts) and chunk transfer
 * (files/links.ts) both ride on these links; frames go through the router.
 */
import type { TCPSocketListener } from "bun";
import type { Clock } from "../../common/clock.ts";
import type { Logger } from "../../common/logger.ts";
import type { Frame } from "../../protocol/frame.ts";
import { connectLink, listenLinks, type LinkTls } from "../../net/link.ts";
import type { ServerSession } from "../session.ts";
import { T } from "../texts.ts";
import { MAX_PENDING_HANDSHAKES, PEER_LINK, PEER_LISTEN_LINK, type PeerConn, type PeerLink } from "./conn.ts";
import { acceptPeer, callPeer, type Dial, type HandshakeHost, type TokenCheck } from "./handshake.ts";
import type { PeerRouter } from "./router.ts";

/** A session: live, or its link went away and the user has not been told on use yet. */
export type PeerSession = { conn: PeerConn; state: "live" | "gone" };

/** This client's peer certificate (made fresh at each run, in memory only). */
export type PeerIdentity = { key: string; cert: string; fingerprint: string };

export class Peers {
  private listener: TCPSocketListener<any> | null = null;
  private me: string | null = null;
  private server: ServerSession | null = null;
  private readonly sessions = new Map<string, PeerSession>();
  private readonly host: HandshakeHost;
  /** Links on our listener whose handshake is not finished (see MAX_PENDING_HANDSHAKES). */
  private pending = 0;
  private readonly dial: Dial;
  private identity: PeerIdentity | null = null;
  /** Called for every authenticated link, both directions (file transfer adopts it). */
  readonly onLink: ((conn: PeerConn) => void)[] = [];
  /** Called when the link of a user's session is gone (not one stopped or replaced on purpose). */
  readonly onSessionEnded: ((conn: PeerConn) => void)[] = [];

  constructor(
    readonly router: PeerRouter,
    private readonly log: Logger,
    private readonly clock: Clock,
    dial?: Dial,
  ) {
    this.dial = dial ?? ((host, port, events, expectCert) => connectLink(host, port, PEER_LINK, events, this.callerTls(expectCert)));
    this.host = {
      clock,
      log,
      me: () => this.me,
      checkToken: (from, token) => this.checkToken(from, token),
      linked: (user) => this.sessions.get(user)?.state === "live",
      adopt: (conn, iCalled) => this.adopt(conn, iCalled),
      frame: (conn, f: Frame) => this.router.route(conn, f),
      closed: (conn) => this.onClosed(conn),
    };
  }

  /**
   * Listen on an OS-chosen port (or `port`) on every interface, over mutual TLS with
   * `identity`; returns the port. A caller must present a certificate (which one is
   * checked in the handshake, against what the server vouches for). Until a caller
   * is authenticated its link takes only small frames (PEER_LISTEN_LINK).
   */
  listen(identity: PeerIdentity, port = 0): number {
    this.identity = identity;
    const tls: LinkTls = {
      key: identity.key,
      cert: identity.cert,
      requestCert: true,
      verify: (peer) => (peer.fingerprint ? null : "the caller presented no certificate"),
    };
    this.listener = listenLinks("0.0.0.0", port, PEER_LISTEN_LINK, (link) => this.accept(link), tls);
    return this.listener.port;
  }

  /** Our certificate fingerprint, given to the server at login (null before listen). */
  get fingerprint(): string | null {
    return this.identity?.fingerprint ?? null;
  }

  /** A call: we present our certificate, and accept only the one the server vouched for. */
  private callerTls(expectCert: string): LinkTls {
    const me = this.identity;
    return {
      ...(me ? { key: me.key, cert: me.cert } : {}),
      verify: (peer) => {
        if (peer.fingerprint === expectCert) return null;
        const why = `certificate ${peer.fingerprint ?? "(none)"} is not the one the server vouched for (${expectCert})`;
        this.log.debug(`peer link refused: ${why}`);
        return why;
      },
    };
  }

  /** A new link on our listener: it must pass the callee's handshake. */
  accept(link: PeerLink): void {
    if (this.pending >= MAX_PENDING_HANDSHAKES) {
      this.log.debug(`peer link from ${link.remoteAddress} refused: ${this.pending} handshakes pending`);
      link.attach({ frame: () => {}, close: () => {} });
      return link.destroy("too many pending handshakes");
    }
    this.pending++;
    acceptPeer(this.host, link, () => this.pending--);
  }

  /** Logged in: from now on calls can be made and checked with the server. */
  ready(me: string, server: ServerSession): void {
    this.me = me;
    this.server = server;
  }

  /** Users with a live session (for completion). */
  get openSessions(): string[] {
    return [...this.sessions].filter(([, e]) => e.state === "live").map(([u]) => u);
  }

  session(user: string): PeerSession | undefined {
    return this.sessions.get(user);
  }

  /** Forget a user's session (stopped, or its loss reported). */
  forget(user: string): void {
    this.sessions.delete(user);
  }

  /**
   * A live link to `user`, opening one (as startprivate does) if needed.
   * Returns the link, or the error text to show. With `fresh`, an open session is an error.
   */
  async open(user: string, fresh = false): Promise<PeerConn | string> {
    const existing = this.liveConn(user);
    if (existing) return fresh ? T.privateActive(user) : existing;
    const r = await this.server!.request({ t: "peer_request", user });
    switch (r.code) {
      case "invalid_user":
        return T.invalidUser;
      case "self":
        return T.privateSelf;
      case "offline":
        return T.userOffline(user);
      case "blocked_you":
        return T.peerBlockedYou(user);
      case "unexpected":
        return T.unexpectedAnswer(r.got);
      case "peer":
        break;
    }
    // Another start may have completed while we waited for the server.
    const again = this.liveConn(user);
    if (again) return fresh ? T.privateActive(user) : again;
    try {
      return await callPeer(this.host, this.dial, user, r);
    } catch (e) {
      this.log.debug(`peer ${user}: ${(e as Error).message}`);
      // Both called each other at once and the other call got through first (the callee
      // then refuses the second link): the session the user asked for exists.
      const crossed = this.sessions.get(user);
      if (crossed?.state === "live" && crossed.conn.link.isOpen) return crossed.conn;
      return T.peerUnreachable(user);
    }
  }

  /** Logout: close every link; each peer is told by the close itself. */
  closeAll(): void {
    for (const [, e] of this.sessions) e.conn.link.end();
    this.sessions.clear();
    this.listener?.stop(true);
  }

  private liveConn(user: string): PeerConn | null {
    const e = this.sessions.get(user);
    return e?.state === "live" ? e.conn : null;
  }

  private async checkToken(from: string, token: string): Promise<TokenCheck> {
    if (!this.server) return { good: false };
    const r = await this.server.request({ t: "peer_check", user: from, token });
    return r.code === "token_ok" ? { good: true, cert: r.cert } : { good: false };
  }

  /**
   * Make `conn` the session with its user; returns the session's link. If a live one
   * exists already (both called each other at once and both calls got through), both
   * sides keep the link the alphabetically smaller name called and silently hang up the
   * other, so they agree on one session.
   */
  private adopt(conn: PeerConn, iCalled: boolean): PeerConn {
    const cur = this.sessions.get(conn.user);
    if (cur?.state === "live" && cur.conn !== conn && cur.conn.link.isOpen) {
      const callerOfNew = iCalled ? this.me! : conn.user;
      const callerOfOther = iCalled ? conn.user : this.me!;
      if (callerOfOther < callerOfNew) {
        this.log.debug(`peer ${conn.user}: crossed calls, keeping the link ${callerOfOther} opened`);
        conn.link.end();
        return cur.conn;
      }
      this.log.debug(`peer ${conn.user}: crossed calls, keeping the link ${callerOfNew} opened`);
      const old = cur.conn;
      this.sessions.set(conn.user, { conn, state: "live" });
      old.link.end();
    } else this.sessions.set(conn.user, { conn, state: "live" });
    this.log.debug(`peer link with ${conn.user} open`);
    for (const f of this.onLink) f(conn);
    return conn;
  }

  private onClosed(conn: PeerConn): void {
    for (const f of conn.onGone) f(conn);
    const e = this.sessions.get(conn.user);
    if (e?.conn !== conn) return; // stopped on purpose, or replaced
    e.state = "gone";
    for (const f of this.onSessionEnded) f(conn);
  }
}
