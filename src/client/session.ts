/**
 * The client's link to the server: the version handshake, login, requests with
 * ids matched to their replies, and pushed events (messages, presence, kick).
 */
import { systemClock, type Clock } from "../common/clock.ts";
import { COMPACT_VERSION, decodeServerFrame, encodeCompactClient } from "../protocol/compact.ts";
import type { Frame } from "../protocol/frame.ts";
import {
  APP_NAME,
  encodeMessage,
  fitReply,
  MAX_SERVER_FRAME,
  PROTOCOL_VERSION,
  type ClientMsg,
  type ReplyTo,
  type RequestType,
  type ServerMsg,
  type UnfitReply,
} from "../protocol/messages.ts";
import { ReplyGatherer } from "../protocol/listing.ts";
import { connectLink, REQUIRES_TLS, type Link, type LinkEvents, type LinkTls } from "../net/link.ts";

/** Any reply, as it comes off the wire. */
export type Reply = Extract<ServerMsg, { t: "reply" }>;
/** The answer to a request of type R: a reply fitting R's row in REPLIES, or an unfit one. */
export type Answer<R extends RequestType> = ReplyTo<R> | UnfitReply;
export type LoginCode = Extract<ServerMsg, { t: "login_result" }>["code"];
export type ServerEvent = Extract<ServerMsg, { t: "msg" | "presence" | "kicked" | "error" }>;

/** Requests without their id; the session numbers them. */
export type Request = ClientMsg extends infer M ? (M extends { id: number } ? Omit<M, "id"> : never) : never;

/** What the session uses of a Link (a fake in tests implements just this). */
export type SessionLink = Pick<Link, "send" | "end" | "destroy">;
/** Opens the link to the server, delivering its events (connectLink in the program). */
export type DialServer = (events: LinkEvents) => Promise<SessionLink>;

export class SessionError extends Error {
  /** `not_tls` (a TLS client at a plain server), `requires_tls` (the reverse), `refused` (certificate refused), an OS code... */
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** The server must answer hello and login within this time. */
export const HANDSHAKE_MS = 10_000;
/**
 * Offline messages shown before an ack is sent even though more are still coming in
 * (besides the ack once the messages that arrived together are shown). Each ack costs
 * the server a DELETE: 100 000 messages acked per 100 took 179 ms of server time, per
 * 1 000 100 ms (measured on the SQLite store).
 */
const ACK_EVERY = 1000;

type Pending = { request: RequestType; resolve: (r: Answer<RequestType>) => void; reject: (e: Error) => void };

export class ServerSession {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  /** A listing too long for one frame comes in parts (docs/protocol.md §2): gathered here. */
  private parts = new ReplyGatherer();
  private waiting: { t: ServerMsg["t"]; resolve: (m: ServerMsg) => void }[] = [];
  private closed = false;
  private onEvent: ((e: ServerEvent) => void) | null = null;
  private early: ServerEvent[] = [];
  private link: SessionLink | null = null;
  /** Offline delivery: highest seq shown, highest acknowledged, messages shown since, an ack pending for this turn. */
  private shownSeq = 0;
  private ackedSeq = 0;
  private unacked = 0;
  private ackScheduled = false;
  /** The server agreed on version 3: the hot messages go, and may come, as compact frames (protocol/compact.ts). */
  private compact = false;
  onClose: (reason: string) => void = () => {};

  private constructor(private readonly clock: Clock) {}

  /** Connect and agree on the protocol version. Throws SessionError with a one-line reason. */
  static connect(host: string, port: number, clock: Clock = systemClock, tls?: LinkTls): Promise<ServerSession> {
    return ServerSession.open((events) => connectLink(host, port, { maxFrame: MAX_SERVER_FRAME }, events, tls), clock);
  }

  /** Like connect, over whatever link `dial` opens. */
  static async open(dial: DialServer, clock: Clock): Promise<ServerSession> {
    const session = new ServerSession(clock);
    try {
      session.link = await dial({
        frame: (f) => session.onFrame(f),
        close: (reason) => session.onLinkClosed(reason),
      });
    } catch (e) {
      throw new SessionError((e as NodeJS.ErrnoException).code ?? (e as Error).message, (e as { code?: string }).code);
    }
    session.send({ t: "hello", v: PROTOCOL_VERSION, app: APP_NAME });
    const ok = await session.expect("hello_ok");
    if (ok.t !== "hello_ok") throw new SessionError(`unexpected ${ok.t}`);
    session.compact = ok.v >= COMPACT_VERSION;
    return session;
  }

  async login(user: string, pass: string, peerPort?: number, peerCert?: string): Promise<LoginCode> {
    this.send({ t: "login", user, pass, ...(peerPort !== undefined ? { peerPort } : {}), ...(peerCert !== undefined ? { peerCert } : {}) });
    const r = await this.expect("login_result");
    if (r.t !== "login_result") throw new SessionError(`unexpected ${r.t}`);
    return r.code;
  }

  /**
   * Send a request; resolves with its reply, typed by the request's type. Rejects with
   * SessionError if the link is or goes down before the reply.
   */
  request<M extends Request>(req: M): Promise<Answer<M["t"]>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new SessionError("not connected"));
      this.pending.set(id, { request: req.t, resolve: resolve as Pending["resolve"], reject });
      this.send({ ...req, id } as ClientMsg);
    });
  }

  /** Tell the server the user did something the client handled itself (behaviour.md §5). */
  activity(): void {
    this.send({ t: "activity" });
  }

  /** Deliver pushed events to fn, starting with any that arrived before it was set. */
  setEventHandler(fn: (e: ServerEvent) => void): void {
    this.onEvent = fn;
    const early = this.early;
    this.early = [];
    for (const e of early) this.deliver(e);
  }

  close(): void {
    this.link?.end();
  }

  private send(msg: ClientMsg): void {
    this.link?.send((this.compact && encodeCompactClient(msg)) || encodeMessage(msg));
  }

  /** Resolve with the next message of type t (or an error message from the server). */
  private expect(t: ServerMsg["t"]): Promise<ServerMsg> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new SessionError("connection closed"));
      const timer = this.clock.after(HANDSHAKE_MS, () => {
        this.waiting = this.waiting.filter((w) => w !== waiter);
        reject(new SessionError(`no ${t} from server`));
      });
      const waiter = {
        t,
        resolve: (m: ServerMsg) => {
          timer.cancel();
          if (m.t === "error") reject(new SessionError(m.code === "version" ? `version: ${m.detail}` : m.detail ?? m.code, m.code));
          else resolve(m);
        },
      };
      this.waiting.push(waiter);
    });
  }

  private onFrame(f: Frame): void {
    const msg = decodeServerFrame(f, this.compact);
    if (typeof msg === "string") return this.link?.destroy(`bad message from server: ${msg}`);
    if (msg.t === "reply") {
      const whole = this.parts.add(msg);
      if (!whole) return;
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      return p?.resolve(fitReply(p.request, whole));
    }
    const w = this.waiting[0];
    if (w && (w.t === msg.t || msg.t === "error")) {
      this.waiting.shift();
      return w.resolve(msg);
    }
    if (msg.t === "msg" || msg.t === "presence" || msg.t === "kicked" || msg.t === "error") {
      if (this.onEvent) this.deliver(msg);
      else this.early.push(msg);
    }
  }

  /**
   * Hand an event to the app (which shows it before returning); an offline message
   * shown is then acknowledged, cumulatively: every ACK_EVERY, and once the events
   * that arrived together are all handled (setImmediate) — a few acks per backlog,
   * not one per message. The server deletes only what was acked, so a client that
   * dies before acking is shown those messages again at its next login.
   */
  private deliver(e: ServerEvent): void {
    this.onEvent!(e);
    if (e.t !== "msg" || e.seq === undefined || e.seq <= this.shownSeq) return;
    this.shownSeq = e.seq;
    // Counted in messages, not seqs: seqs grow by more than 1 when other users' messages were stored in between.
    if (++this.unacked >= ACK_EVERY) return this.sendAck();
    if (!this.ackScheduled) {
      this.ackScheduled = true;
      setImmediate(() => this.sendAck());
    }
  }

  private sendAck(): void {
    this.ackScheduled = false;
    if (this.shownSeq <= this.ackedSeq || this.closed) return;
    this.ackedSeq = this.shownSeq;
    this.unacked = 0;
    this.send({ t: "ack", upTo: this.shownSeq });
  }

  private onLinkClosed(reason: string): void {
    this.closed = true;
    // A plain client at a TLS server: the link saw a TLS record and closed with REQUIRES_TLS.
    const code = reason === REQUIRES_TLS ? "requires_tls" : "closed";
    for (const w of this.waiting) w.resolve({ t: "error", code, detail: reason === REQUIRES_TLS ? reason : "connection closed" } as ServerMsg);
    this.waiting = [];
    this.onClose(reason);
    // Requests still open will never be answered: fail them, so no caller waits forever
    // (after onClose, so the app knows it is leaving when the failures reach it).
    const open = [...this.pending.values()];
    this.pending.clear();
    for (const p of open) p.reject(new SessionError("connection closed"));
  }
}
