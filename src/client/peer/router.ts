/**
 * Where a frame on an authenticated peer link goes: one table keyed by peer message
 * type, plus one route for DATA (chunk bytes). Features register their handlers here
 * (chat: pm, pm_stop; files: chunk_*); anything without a handler is a peer breaking
 * the protocol, and its link is dropped.
 */
import type { Logger } from "../../common/logger.ts";
import { KIND_DATA, KIND_JSON, type Frame } from "../../protocol/frame.ts";
import { decodePeer, type PeerMsg } from "../../protocol/messages.ts";
import type { PeerConn } from "./conn.ts";

export type PeerHandler<K extends PeerMsg["t"]> = (conn: PeerConn, msg: Extract<PeerMsg, { t: K }>) => void;
/** A piece of stream `stream`'s DATA (a view of a socket read buffer nobody else keeps). */
export type DataHandler = (conn: PeerConn, stream: number, body: Uint8Array) => void;

type Routes = { [K in PeerMsg["t"]]: PeerHandler<K> | null };

export class PeerRouter {
  /**
   * Every peer message type, listed: adding one to P2P without deciding here where it
   * goes does not compile. The handshake's messages stay null: after it they are errors.
   */
  private readonly routes: Routes = {
    peer_hello: null,
    peer_welcome: null,
    peer_reject: null,
    pm: null,
    pm_stop: null,
    chunk_get: null,
    chunk_ok: null,
    chunk_none: null,
    chunk_cancel: null,
  };
  private data: DataHandler | null = null;

  constructor(private readonly log: Logger) {}

  /** Handle messages of type t. One handler per type: a second is a bug. */
  on<K extends PeerMsg["t"]>(t: K, handler: PeerHandler<K>): void {
    if (this.routes[t]) throw new Error(`peer message ${t} already has a handler`);
    (this.routes as Record<K, PeerHandler<K> | null>)[t] = handler;
  }

  onData(handler: DataHandler): void {
    if (this.data) throw new Error("peer DATA already has a handler");
    this.data = handler;
  }

  /** One frame from an authenticated link. */
  route(conn: PeerConn, f: Frame): void {
    if (f.kind === KIND_DATA && f.stream !== undefined && this.data) return this.data(conn, f.stream, f.body);
    if (f.kind !== KIND_JSON) return this.drop(conn, `unexpected frame kind ${f.kind}`, "unexpected frame");
    const msg = decodePeer(f.body);
    if (typeof msg === "string") return this.drop(conn, msg, msg);
    const handler = this.routes[msg.t] as PeerHandler<typeof msg.t> | null;
    if (!handler) return this.drop(conn, `unexpected ${msg.t}`, "unexpected frame");
    handler(conn, msg);
  }

  private drop(conn: PeerConn, why: string, reason: string): void {
    this.log.debug(`peer ${conn.user}: ${why}`);
    conn.link.destroy(reason);
  }
}
