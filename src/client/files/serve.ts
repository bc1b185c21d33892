/**
 * Serving chunks (the holder side of a chunk transfer) on one peer link.
 *
 * Only a chunk this client holds is served: the name must be a valid file name
 * (never a path), and the chunk must be marked held in the files folder's state —
 * so a partial download's unverified bytes are never sent. The chunk is read with a
 * file handle, one DATA_PIECE at a time, straight into the buffer that becomes the
 * DATA frame (from a pool of reused buffers); when the link's queue is over its
 * high-water mark the loop waits for it to drain. Memory per upload: the pieces in
 * the link's bounded queue plus the one being read.
 */
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import type { Logger } from "../../common/logger.ts";
import { badFileName } from "../../protocol/files.ts";
import { dataFrameHeader } from "../../protocol/frame.ts";
import { DATA_PIECE, type PeerMsg } from "../../protocol/messages.ts";
import type { Link } from "../../net/link.ts";
import type { PeerConn } from "../peer/conn.ts";
import { ignored } from "../ignored.ts";
import { transferred } from "./gc.ts";
import type { FileStore } from "./store.ts";

/** Chunks one link may be sent at once; more get chunk_none "busy". */
export const MAX_UPLOADS_PER_LINK = 8;
const HEADER = 9; // frame header (5) + stream id (4)
/** What the piece pool needs to know of a link. */
export type SentCounter = Pick<Link, "sentBytes" | "queuedBytes" | "isClosed">;

/**
 * Piece buffers, reused: socket.write copies into the kernel, so a buffer is free
 * again once its link has written all of it (Link.sentBytes). A saturated link
 * always has a queue, so without this every piece was a fresh 1 MiB buffer: a GiB
 * of garbage per GiB served, paid for in page faults and forced collections (the
 * holders' CPU per GiB served halved with it, bench/README-transfer.md). The
 * buffers in use are bounded by the links' queues: the serving loop waits while a
 * queue is over its high-water mark.
 */
export class PiecePool {
  private inUse: { buf: Buffer; link: SentCounter; until: number }[] = [];
  private free: Buffer[] = [];

  constructor(
    readonly size: number,
    /** Free buffers kept. */
    private readonly maxFree = 8,
    /** Buffers still queued somewhere beyond this many are left to the collector. */
    private readonly maxInUse = 64,
  ) {}

  take(): Buffer {
    for (let i = 0; i < this.inUse.length; i++) {
      const u = this.inUse[i]!;
      if (u.link.sentBytes >= u.until || u.link.isClosed) {
        this.inUse.splice(i, 1);
        return u.buf;
      }
    }
    return this.free.pop() ?? Buffer.allocUnsafe(this.size);
  }

  /** `buf` was just sent whole on `link` (null: it was not sent at all). */
  giveBack(buf: Buffer, link: SentCounter | null): void {
    if (link && !link.isClosed && link.queuedBytes > 0) {
      if (this.inUse.length >= this.maxInUse) this.inUse.shift();
      this.inUse.push({ buf, link, until: link.sentBytes + link.queuedBytes });
    } else if (this.free.length < this.maxFree) this.free.push(buf);
  }

  /** Buffers owned (for tests). */
  get owned(): number {
    return this.inUse.length + this.free.length;
  }
}

const pool = new PiecePool(HEADER + DATA_PIECE);

export class ChunkServer {
  private readonly uploads = new Map<number, { cancelled: boolean }>();

  constructor(
    private readonly conn: PeerConn,
    private readonly store: FileStore,
    private readonly log: Logger,
  ) {}

  onGet(msg: Extract<PeerMsg, { t: "chunk_get" }>): void {
    void this.serve(msg.req, msg.name, msg.chunk).catch((e) => {
      this.log.debug(`serving ${this.conn.user}: ${(e as Error).message}`);
    });
  }

  onCancel(req: number): void {
    const u = this.uploads.get(req);
    if (u) u.cancelled = true;
  }

  onGone(): void {
    for (const u of this.uploads.values()) u.cancelled = true;
  }

  private refuse(req: number, name: string, c: number, reason: "not_held" | "bad_name" | "busy"): void {
    this.log.debug(`peer ${this.conn.user} asked for chunk ${c} of ${JSON.stringify(name).slice(0, 80)}: ${reason}`);
    this.conn.send({ t: "chunk_none", req, reason });
  }

  private async serve(req: number, name: string, c: number): Promise<void> {
    const none = (reason: "not_held" | "bad_name" | "busy") => this.refuse(req, name, c, reason);
    if (badFileName(name) !== null) return none("bad_name");
    const f = this.store.get(name);
    if (!f || !f.have.has(c)) return none("not_held");
    if (this.uploads.has(req) || this.uploads.size >= MAX_UPLOADS_PER_LINK) return none("busy");
    const state = { cancelled: false };
    this.uploads.set(req, state);
    let fh: FileHandle | null = null;
    try {
      fh = await open(this.store.dataPath(f), "r");
      const { start, end } = this.store.span(f, c);
      const link = this.conn.link;
      if (!link.isOpen || state.cancelled) return;
      this.conn.send({ t: "chunk_ok", req, size: end - start });
      for (let pos = start; pos < end; ) {
        if (state.cancelled || !link.isOpen) return;
        const n = Math.min(DATA_PIECE, end - pos);
        // The piece is read straight into its frame: no copy between disk and socket queue.
        const buf = pool.take();
        const frame = buf.subarray(0, HEADER + n);
        frame.set(dataFrameHeader(req, n), 0);
        let bytesRead: number;
        try {
          bytesRead = (await fh.read(frame, HEADER, n, pos)).bytesRead;
        } catch (e) {
          pool.giveBack(buf, null);
          throw e;
        }
        if (bytesRead !== n || state.cancelled || !link.isOpen) {
          pool.giveBack(buf, null);
          if (bytesRead !== n) throw new Error(`short read at ${pos} (${bytesRead} of ${n})`);
          return;
        }
        pos += n;
        transferred(n);
        const more = link.send(frame);
        pool.giveBack(buf, link);
        if (!more) await link.drained();
      }
    } catch (e) {
      this.log.debug(`serving chunk ${c} of ${name}: ${(e as Error).message}`);
      if (this.conn.link.isOpen && !state.cancelled) this.conn.send({ t: "chunk_none", req, reason: "error" });
    } finally {
      this.uploads.delete(req);
      // Closing a file we only read: a failure loses nothing.
      await fh?.close().catch(ignored(this.log, `closing the file of ${name}`, undefined));
    }
  }
}
