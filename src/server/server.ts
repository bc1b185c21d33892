/**
 * The server's I/O shell: sockets ↔ hub. Decodes frames into messages for the
 * hub and encodes the hub's answers; knows nothing of the rules.
 */
import type { TCPSocketListener } from "bun";
import type { Clock } from "../common/clock.ts";
import type { Logger } from "../common/logger.ts";
import { COMPACT_VERSION, compactServerMax, encodeCompactServer, fillCompactServer } from "../protocol/compact.ts";
import { encodeMessage, MAX_SERVER_FRAME, type ServerMsg } from "../protocol/messages.ts";
import { splitReply } from "../protocol/listing.ts";
import { Link, listenLinks, TLS_HANDSHAKE_MS, type LinkTls } from "../net/link.ts";
import { Admission, type AdmissionLimits } from "./admission.ts";
import { Conn, type ConnHost } from "./conn.ts";
import { Hub, type HubConfig, type Outbox } from "./hub.ts";
import { NoticeBytes } from "./notice-bytes.ts";
import type { Router } from "./hub-context.ts";
import type { SharedState } from "./state.ts";
import type { Store } from "./store.ts";

/** Bytes queued for a client that stops reading before it is dropped. */
export const MAX_CLIENT_QUEUE = 8 * 1024 * 1024;
/** Bytes of offline backlog (and whatever else) allowed to wait on a link before the next batch waits for it to drain. */
const BACKLOG_QUEUE = 4 * 1024 * 1024;

/** Whether an encoded frame is within the client↔server limit (its length field counts kind + body). */
const fits = (frame: Uint8Array) => frame.byteLength - 4 <= MAX_SERVER_FRAME;

/** One message in the forms its recipients read, each encoded when first asked for. */
class Forms {
  private json: Uint8Array | undefined;
  private compact: Uint8Array | null | undefined;
  constructor(private readonly msg: ServerMsg) {}
  for(compact: boolean): Uint8Array {
    if (compact) {
      if (this.compact === undefined) this.compact = encodeCompactServer(this.msg);
      if (this.compact !== null) return this.compact;
    }
    return (this.json ??= encodeMessage(this.msg));
  }
}

export type ServerOptions = {
  host: string;
  port: number;
  users: Map<string, string>;
  store: Store;
  clock: Clock;
  log: Logger;
  hub: HubConfig;
  /** Caps on connections not yet logged in (default DEFAULT_ADMISSION). */
  admission?: AdmissionLimits;
  /** State shared with other servers (a cluster on Redis); default: this process's memory. */
  shared?: SharedState;
  /** This server's id in the cluster. */
  node?: string;
  /** The other servers of the cluster. */
  router?: Router;
  /** Serve over TLS with this identity (absent: plain TCP, --no-tls). */
  tls?: { key: string; cert: string };
};

export class ChatServer {
  private nextSid = 1;
  readonly hub: Hub;
  private listener: TCPSocketListener<any> | null = null;
  private readonly admission: Admission;
  private readonly connHost: ConnHost;
  /** The current window's presence notices, encoded (notice-bytes.ts). */
  private notices: NoticeBytes | undefined;

  constructor(private readonly opts: ServerOptions) {
    this.admission = new Admission(opts.admission);
    const outbox: Outbox = {
      send: (sid, msg) => {
        const conn = this.conn(sid);
        if (!conn) return;
        // Logged in: no longer counted against the pre-login caps.
        if (msg.t === "login_result" && msg.code === "ok") this.admission.release(sid);
        // Version 3: the compact frame is written straight into the link's held bytes.
        const max = conn.compact ? compactServerMax(msg) : 0;
        if (max > 0 && max - 4 <= MAX_SERVER_FRAME) {
          conn.link.sendWith(max, fillCompactServer, msg);
        } else {
          // Too big for the frame limit as compact (max is a bound: it may still fit), or JSON only.
          const bytes = (max > 0 && encodeCompactServer(msg)) || encodeMessage(msg);
          if (fits(bytes)) conn.link.send(bytes);
          else this.sendSplit(sid, conn.link, msg);
        }
        // Version 3 agreed: from now on both sides may use compact frames.
        if (msg.t === "hello_ok" && msg.v >= COMPACT_VERSION) conn.compact = true;
      },
      sendMany: (sids, msg: ServerMsg) => {
        if (sids.length === 0) return;
        // Encoded once per form (JSON, compact), shared by every recipient of that form.
        const forms = new Forms(msg);
        for (const sid of sids) {
          const conn = this.conn(sid);
          if (!conn) continue;
          const bytes = forms.for(conn.compact);
          if (!fits(bytes)) {
            opts.log.debug(`session ${sid}: ${msg.t} of ${bytes.byteLength} bytes does not fit a frame, not sent`);
            continue;
          }
          conn.link.send(bytes);
        }
      },
      sendRun: (sid, list, from, to) => {
        const conn = this.conn(sid);
        if (!conn) return;
        if (this.notices?.list !== list) this.notices = new NoticeBytes(list, opts.log);
        const bytes = this.notices.slice(conn.compact, from, to);
        if (bytes.byteLength > 0) conn.link.send(bytes);
      },
      close: (sid) => this.conn(sid)?.link.end(),
      // Paces the offline backlog (delivery.ts): batches follow each other until
      // BACKLOG_QUEUE waits on the link, then resume once it is under its high-water
      // mark — the gap keeps the client fed while the server is busy elsewhere.
      whenDrained: (sid, fn) => {
        const link = this.conn(sid)?.link;
        if (!link) return;
        const next = () => {
          if (!link.isOpen) return;
          try {
            fn();
          } catch (e) {
            opts.log.debug(`session ${sid}: internal error: ${(e as Error).stack ?? e}`);
            link.destroy("internal error");
          }
        };
        if (link.queuedBytes < BACKLOG_QUEUE) queueMicrotask(next);
        else void link.drained().then(next);
      },
    };
    this.hub = new Hub(opts.users, opts.store, opts.clock, opts.hub, outbox, opts.log, opts.shared, opts.node, opts.router);
    this.connHost = {
      hub: this.hub,
      log: opts.log,
      forget: (sid) => this.admission.release(sid),
    };
  }

  /**
   * The connection of session `sid`: kept by the hub with the session (one map
   * entry per connection, not two), until the hub hears of the close.
   */
  private conn(sid: number): Conn | undefined {
    return this.hub.transport(sid) as Conn | undefined;
  }

  /**
   * A message over the frame limit: a listing (whoelse, whoelsesince, file_search
   * holders) goes out in parts (listing.ts); anything else cannot be cut, and a
   * sender that made one (a user name of thousands of escaped characters) is told nothing.
   */
  private sendSplit(sid: number, link: Link, msg: ServerMsg): void {
    const { log } = this.opts;
    if (msg.t !== "reply") return log.debug(`session ${sid}: ${msg.t} does not fit a frame, not sent`);
    const { parts, dropped } = splitReply(msg, MAX_SERVER_FRAME - 1);
    if (dropped.length > 0) log.debug(`session ${sid}: ${dropped.length} list item(s) too long for a frame left out of reply ${msg.id}`);
    for (const p of parts) link.send(encodeMessage(p));
  }

  /**
   * The pre-login caps (admission.ts): a connection over them is told why
   * (`error {code:"busy"}`) and closed before anything else; the hub never sees it.
   */
  private admit(sid: number, link: Link, host: string): boolean {
    const refused = this.admission.admit(sid, host);
    if (!refused) return true;
    this.opts.log.debug(`session ${sid}: connection from ${host} refused: ${refused.detail}`);
    link.attach({ frame: () => {}, close: (reason) => this.opts.log.debug(`session ${sid}: link closed: ${reason}`) });
    link.send(encodeMessage({ t: "error", code: "busy", detail: "too many connections waiting to log in; try again later" }));
    link.end();
    return false;
  }

  /** Start listening; throws (EADDRINUSE, ...) if the port cannot be bound. */
  start(): number {
    const { log } = this.opts;
    this.listener = listenLinks(
      this.opts.host,
      this.opts.port,
      { maxFrame: MAX_SERVER_FRAME, maxQueued: MAX_CLIENT_QUEUE, flushPerTurn: true },
      (link) => {
        const sid = this.nextSid++;
        // Read once: each read of the socket's address makes a new string.
        const host = link.remoteAddress;
        if (!this.admit(sid, link, host)) return;
        const conn = new Conn(this.connHost, sid, link);
        link.attach(conn);
        if (log.enabled) log.debug(`session ${sid}: connection from ${host}`);
        this.hub.connect(sid, host, conn);
      },
      this.linkTls(),
    );
    return this.listener.port;
  }

  /** The server proves who it is; clients are not asked for certificates (they log in with passwords). */
  private linkTls(): LinkTls | undefined {
    const t = this.opts.tls;
    // The handshake counts against the pre-login limit too (a connection that never finishes it is closed).
    const handshakeMs = Math.min(TLS_HANDSHAKE_MS, this.opts.hub.preLoginMs);
    return t && { key: t.key, cert: t.cert, handshakeMs, verify: () => null };
  }

  stop(): void {
    this.listener?.stop(true);
    this.opts.store.close();
  }
}
