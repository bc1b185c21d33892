/**
 * Chunk transfer on peer links: every authenticated link (either direction) serves
 * our chunks (serve.ts) and carries our requests (fetch.ts). Registers the chunk
 * messages and DATA with the peer router.
 */
import type { Clock } from "../../common/clock.ts";
import type { Logger } from "../../common/logger.ts";
import type { PeerConn } from "../peer/conn.ts";
import type { Peers } from "../peer/peers.ts";
import { T } from "../texts.ts";
import { ChunkClient } from "./fetch.ts";
import { ChunkServer } from "./serve.ts";
import type { FileStore } from "./store.ts";

type LinkState = { client: ChunkClient; server: ChunkServer };

export class ChunkLinks {
  private readonly conns = new WeakMap<PeerConn, LinkState>();
  private readonly opening = new Map<string, Promise<PeerConn | string>>();

  constructor(
    private readonly peers: Peers,
    private readonly store: FileStore,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    peers.onLink.push((conn) => void this.adopt(conn));
    const r = peers.router;
    r.on("chunk_get", (conn, msg) => this.adopt(conn).server.onGet(msg));
    r.on("chunk_cancel", (conn, msg) => this.adopt(conn).server.onCancel(msg.req));
    r.on("chunk_ok", (conn, msg) => this.adopt(conn).client.onMessage(msg));
    r.on("chunk_none", (conn, msg) => this.adopt(conn).client.onMessage(msg));
    // Peer links stream DATA payloads: each frame here is the next piece of one.
    r.onData((conn, stream, body) => this.adopt(conn).client.onData(stream, body));
  }

  /** A link to `user` (one opening at a time per user), ready for chunk requests; or the error text. */
  async client(user: string): Promise<ChunkClient | string> {
    let p = this.opening.get(user);
    if (!p) {
      p = this.peers
        .open(user)
        .catch((e: Error) => {
          this.log.debug(`peer ${user}: ${e.message}`);
          return T.peerUnreachable(user);
        })
        .finally(() => this.opening.delete(user));
      this.opening.set(user, p);
    }
    const conn = await p;
    return typeof conn === "string" ? conn : this.adopt(conn).client;
  }

  private adopt(conn: PeerConn): LinkState {
    const known = this.conns.get(conn);
    if (known) return known;
    const st: LinkState = {
      client: new ChunkClient(conn, this.log, this.clock),
      server: new ChunkServer(conn, this.store, this.log),
    };
    this.conns.set(conn, st);
    conn.onGone.push(() => {
      st.client.onGone();
      st.server.onGone();
    });
    return st;
  }
}
