/**
 * Peer to peer (SPEC §6): this client's listener and its direct links to other
 * clients, used for private chat (and, through `PeerConn`, for chunk transfer).
 *
 * Who is calling is proved with a one-time token: the server hands the caller a
 * token bound to (caller, callee); the callee asks the server whether the token
 * it was shown is good before it accepts anything else on the link.
 */
import type { TCPSocketListener } from "bun";
import type { Logger } from "../common/logger.ts";
import { stripControls } from "../common/sanitize.ts";
import { KIND_JSON, type Frame } from "../protocol/frame.ts";
import { decodePeer, encodeMessage, MAX_PEER_FRAME, PEER_PROTOCOL_VERSION, SUPPORTED_VERSIONS, type PeerMsg } from "../protocol/messages.ts";
import { connectLink, listenLinks, type Link, type LinkEvents } from "../net/link.ts";
import type { PrivateChat } from "./app.ts";
import type { ServerSession } from "./session.ts";
import type { Terminal } from "./terminal.ts";
import { T } from "./texts.ts";

/** A link must finish its handshake within this time. */
export const PEER_HANDSHAKE_MS = 5000;
const PEER_LINK = { maxFrame: MAX_PEER_FRAME, highWater: 4 << 20, maxQueued: 64 << 20, streamData: true };

/** One authenticated direct link to another user. */
export class PeerConn {
  /** Extra frame handler (file transfer); returns true if it took the frame. */
  onOther: ((conn: PeerConn, frame: Frame, msg: PeerMsg | null) => boolean) | null = null;
  onGone: ((conn: PeerConn) => void)[] = [];

  constructor(
    readonly user: string,
    readonly link: Link,
  ) {}

  send(msg: PeerMsg): boolean {
    return this.link.send(encodeMessage(msg));
  }
}

type Entry = { conn: PeerConn | null; state: "live" | "gone" };

export class Peers implements PrivateChat {
  private listener: TCPSocketListener<any> | null = null;
  private me: string | null = null;
  private readonly sessions = new Map<string, Entry>();
  /** Set by the sharing module to serve chunk requests on any link. */
  onConn: ((conn: PeerConn) => void) | null = null;

  constructor(
    private readonly term: Terminal,
    private readonly log: Logger,
  ) {}

  /** Listen on an OS-chosen port on every interface; returns the port. */
  listen(): number {
    this.listener = listenLinks("0.0.0.0", 0, PEER_LINK, (link) => this.accept(link));
    return this.listener.port;
  }

  private server: ServerSession | null = null;

  /** Logged in: from now on calls can be checked with the server. */
  ready(me: string, server: ServerSession): void {
    this.me = me;
    this.server = server;
  }

  /** Open users (for completion). */
  get openSessions(): string[] {
    return [...this.sessions].filter(([, e]) => e.state === "live").map(([u]) => u);
  }

  async start(user: string): Promise<void> {
    const r = await this.open(user, true);
    if (typeof r === "string") this.term.print(r, "error");
    else this.term.print(T.privateStarted(user), "notice");
  }

  /**
   * A live link to `user`, opening one (as startprivate does) if needed.
   * Returns the link, or the error text to show. With `fresh`, an open session is an error.
   */
  async open(user: string, fresh = false): Promise<PeerConn | string> {
    const existing = this.sessions.get(user);
    if (existing?.state === "live" && existing.conn) return fresh ? T.privateActive(user) : existing.conn;
    const server = this.server!;
    const r = await server.request({ t: "peer_request", user });
    switch (r.code) {
      case "invalid_user":
        return T.invalidUser;
      case "self":
        return T.privateSelf;
      case "offline":
        return T.userOffline(user);
      case "blocked_you":
        return T.peerBlockedYou(user);
      case "peer":
        break;
      default:
        return `Error. Unexpected answer from server (${r.code})`;
    }
    // Another start may have completed while we waited for the server.
    const again = this.sessions.get(user);
    if (again?.state === "live" && again.conn) return fresh ? T.privateActive(user) : again.conn;
    try {
      return await this.call(user, r.host!, r.port!, r.token!);
    } catch (e) {
      this.log.debug(`peer ${user}: ${(e as Error).message}`);
      // Both called each other at once and the other call got through first (the callee
      // then refuses the second link): the session the user asked for exists.
      const crossed = this.sessions.get(user);
      if (crossed?.state === "live" && crossed.conn?.link.isOpen) return crossed.conn;
      return T.peerUnreachable(user);
    }
  }

  send(user: string, text: string): void {
    const e = this.sessions.get(user);
    if (!e) return this.term.print(T.privateNotEnabled(user), "error");
    if (e.state === "gone" || !e.conn || !e.conn.link.isOpen) {
      this.sessions.delete(user);
      e.conn?.link.destroy();
      return this.term.print(T.peerGone(user), "error");
    }
    e.conn.send({ t: "pm", text });
  }

  stop(user: string): void {
    const e = this.sessions.get(user);
    if (!e || e.state !== "live" || !e.conn) {
      if (e) this.sessions.delete(user);
      return this.term.print(T.noPrivateSession(user), "error");
    }
    this.sessions.delete(user);
    e.conn.send({ t: "pm_stop" });
    e.conn.link.end();
    this.term.print(T.privateStopped(user), "notice");
  }

  /** Logout: close every link; each peer is told by the close itself. */
  closeAll(): void {
    for (const [, e] of this.sessions) e.conn?.link.end();
    this.sessions.clear();
    this.listener?.stop(true);
  }

  // ---- caller side ----

  private call(user: string, host: string, port: number, token: string): Promise<PeerConn> {
    return new Promise((resolve, reject) => {
      let conn: PeerConn | null = null;
      let session: PeerConn | null = null;
      let settled = false;
      const timer = setTimeout(() => done(new Error("handshake timed out")), PEER_HANDSHAKE_MS);
      const done = (err: Error | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          conn?.link.destroy();
          reject(err);
        } else resolve(session!);
      };
      const events: LinkEvents = {
        frame: (f) => {
          if (settled) return this.onFrame(conn!, f);
          const msg = f.kind === KIND_JSON ? decodePeer(f.body) : "not a message";
          if (typeof msg !== "string" && msg.t === "peer_welcome" && msg.user === user) {
            session = this.adopt(conn!, true);
            return done(null);
          }
          done(new Error(typeof msg === "string" ? msg : msg.t === "peer_reject" ? `rejected: ${msg.reason}` : `unexpected ${msg.t}`));
        },
        close: (reason) => {
          if (!settled) done(new Error(`link closed: ${reason}`));
          else this.onClosed(conn!);
        },
      };
      connectLink(host, port, PEER_LINK, events)
        .then((link) => {
          conn = new PeerConn(user, link);
          link.send(encodeMessage({ t: "peer_hello", v: PEER_PROTOCOL_VERSION, from: this.me!, token }));
        })
        .catch((e) => done(new Error(`connect ${host}:${port}: ${(e as NodeJS.ErrnoException).code ?? e}`)));
    });
  }

  // ---- callee side ----

  private accept(link: Link): void {
    let conn: PeerConn | null = null;
    let checking = false;
    const timer = setTimeout(() => {
      if (!conn) link.destroy("no handshake");
    }, PEER_HANDSHAKE_MS);
    const reject = (why: string) => {
      this.log.debug(`peer link from ${link.remoteAddress} rejected: ${why}`);
      clearTimeout(timer);
      link.send(encodeMessage({ t: "peer_reject", reason: "not authorised" }));
      link.end();
    };
    link.attach({
      frame: (f) => {
        if (conn) return this.onFrame(conn, f);
        if (checking) return reject("frame before the handshake finished");
        const msg = f.kind === KIND_JSON ? decodePeer(f.body) : "not a message";
        if (typeof msg === "string") return reject(msg);
        if (msg.t !== "peer_hello") return reject(`expected peer_hello, got ${msg.t}`);
        if (!this.me || !this.server || !SUPPORTED_VERSIONS.includes(msg.v)) return reject("not ready or wrong version");
        const from = msg.from;
        if (this.sessions.get(from)?.state === "live") return reject(`already linked with ${from}`);
        checking = true;
        this.server
          .request({ t: "peer_check", user: from, token: msg.token })
          .then((r) => {
            checking = false;
            if (!link.isOpen) return;
            if (r.code !== "token_ok") return reject(`bad token from ${JSON.stringify(from)}`);
            if (this.sessions.get(from)?.state === "live") return reject(`already linked with ${from}`);
            clearTimeout(timer);
            conn = new PeerConn(from, link);
            conn.send({ t: "peer_welcome", user: this.me! });
            this.adopt(conn, false);
          })
          .catch(() => reject("server unavailable"));
      },
      close: () => {
        clearTimeout(timer);
        if (conn) this.onClosed(conn);
      },
    });
  }

  // ---- both sides ----

  /**
   * Make `conn` the session with its user; returns the session's link. If a live one
   * exists already (both called each other at once and both calls got through), both
   * sides keep the link the alphabetically smaller name called and silently hang up the
   * other, so they agree on one session.
   */
  private adopt(conn: PeerConn, iCalled: boolean): PeerConn {
    const cur = this.sessions.get(conn.user);
    if (cur?.state === "live" && cur.conn && cur.conn !== conn && cur.conn.link.isOpen) {
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
    this.onConn?.(conn);
    return conn;
  }

  private onFrame(conn: PeerConn, f: Frame): void {
    const msg = f.kind === KIND_JSON ? decodePeer(f.body) : null;
    if (typeof msg === "string") {
      this.log.debug(`peer ${conn.user}: ${msg}`);
      return conn.link.destroy(msg);
    }
    if (msg?.t === "pm") {
      return this.term.print(T.privateChat(stripControls(conn.user), stripControls(msg.text)), "private");
    }
    if (msg?.t === "pm_stop") {
      if (this.sessions.get(conn.user)?.conn === conn) this.sessions.delete(conn.user);
      this.term.print(T.peerStoppedPrivate(stripControls(conn.user)), "notice");
      return conn.link.end();
    }
    if (conn.onOther?.(conn, f, msg)) return;
    this.log.debug(`peer ${conn.user}: unexpected ${msg ? msg.t : `frame kind ${f.kind}`}`);
    conn.link.destroy("unexpected frame");
  }

  private onClosed(conn: PeerConn): void {
    for (const f of conn.onGone) f(conn);
    const e = this.sessions.get(conn.user);
    if (e?.conn !== conn) return; // stopped on purpose, or replaced
    e.state = "gone";
    this.term.print(T.privateEnded(stripControls(conn.user)), "notice");
  }
}
