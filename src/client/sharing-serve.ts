/**
 * Serving chunks (the holder side of a chunk transfer) on one peer link.
 *
 * Only a chunk this client holds is served: the name must be a valid file name
 * (never a path), and the chunk must be marked held in the files folder's state —
 * so a partial download's unverified bytes are never sent. The chunk is read with a
 * file handle, one DATA_PIECE at a time, straight into the buffer that becomes the
 * DATA frame; when the link's queue is over its high-water mark the loop waits for
 * it to drain. Memory per upload: one piece plus the link's bounded queue.
 */
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import type { Logger } from "../common/logger.ts";
import { badFileName } from "../protocol/files.ts";
import { dataFrameHeader } from "../protocol/frame.ts";
import { DATA_PIECE, type PeerMsg } from "../protocol/messages.ts";
import type { PeerConn } from "./peers.ts";
import { transferred } from "./sharing-gc.ts";
import type { FileStore } from "./sharing-store.ts";

/** Chunks one link may be sent at once; more get chunk_none "busy". */
export const MAX_UPLOADS_PER_LINK = 8;
const HEADER = 9; // frame header (5) + stream id (4)
/**
 * Piece buffers the kernel took whole, ready for the next piece. socket.write copies
 * into the kernel, so a buffer is free again once the link has nothing queued; when
 * the link queues (a slow reader), the buffer stays with the queue and a new one is made.
 */
const spare: Buffer[] = [];
const MAX_SPARE = 4;

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

  private async serve(req: number, name: string, c: number): Promise<void> {
    const none = (reason: "not_held" | "bad_name" | "busy" | "error") => {
      this.log.debug(`peer ${this.conn.user} asked for chunk ${c} of ${JSON.stringify(name).slice(0, 80)}: ${reason}`);
      this.conn.send({ t: "chunk_none", req, reason });
    };
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
        const buf = spare.pop() ?? Buffer.allocUnsafe(HEADER + DATA_PIECE);
        const frame = buf.subarray(0, HEADER + n);
        frame.set(dataFrameHeader(req, n), 0);
        const { bytesRead } = await fh.read(frame, HEADER, n, pos);
        if (bytesRead !== n) throw new Error(`short read at ${pos} (${bytesRead} of ${n})`);
        if (state.cancelled || !link.isOpen) return;
        pos += n;
        transferred(n);
        const more = link.send(frame);
        if (link.queuedBytes === 0 && spare.length < MAX_SPARE) spare.push(buf);
        if (!more) await link.drained();
      }
    } catch (e) {
      this.log.debug(`serving chunk ${c} of ${name}: ${(e as Error).message}`);
      if (this.conn.link.isOpen && !state.cancelled) this.conn.send({ t: "chunk_none", req, reason: "error" });
    } finally {
      this.uploads.delete(req);
      await fh?.close().catch(() => {});
    }
  }
}
