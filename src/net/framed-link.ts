/**
 * The Link class (link.ts opens sockets and makes them Links).
 * The one framed-socket wrapper every link uses (client↔server, peer chat, chunk
 * transfer): the Bun glue around a WriteQueue (write-queue.ts) and a FrameDecoder.
 * It owns the socket's writes: Bun's socket.write() sends what the kernel takes
 * and drops the rest, so everything goes through the queue, written again on
 * `drain`. Nobody else calls socket.write.
 */
import type { Socket } from "bun";
import { FrameDecoder, FrameError, type Frame } from "../protocol/frame.ts";
import { SocketSink, writePolicy } from "./socket-writes.ts";
import { WriteQueue, type FrameFill } from "./write-queue.ts";

export interface LinkEvents {
  frame(frame: Frame): void;
  /** Called once, when the link is gone for whatever reason. */
  close(reason: string): void;
  /**
   * The byte stream broke (frame too large, zero length, unknown kind). Without
   * this handler the link is destroyed at once; with it, the consumer decides
   * (typically: send an error, then end()). Nothing more is decoded either way:
   * a broken stream cannot be resynchronised.
   */
  bad?(reason: string): void;
}

export interface LinkOptions {
  maxFrame: number;
  /** send() returns false once this many bytes wait in the queue. */
  highWater?: number;
  /**
   * A peer that lets more than this pile up is not reading: the link is dropped.
   */
  maxQueued?: number;
  /**
   * Hold small sends until the end of the event-loop turn (every socket event of
   * the turn handled) instead of the end of the current callback: a server handling
   * 50 logins in one turn then writes each online user's 50 presence notices at
   * once. For servers; a peer-to-peer client keeps the default (its simultaneous-
   * open handling was seen to race when its writes waited for the turn's end).
   */
  flushPerTurn?: boolean;
  /**
   * Hand DATA frame payloads on as they arrive, in pieces (FrameDecoder's
   * `streamData`), instead of gathering each frame first. The pieces are views of
   * the socket's read buffers; Bun gives every read a buffer of its own
   * (measured: 20 reads, 20 distinct ArrayBuffers, none reused after the
   * callback), and the decoder keeps none of it, so a consumer may take a
   * buffer over once the frames of its read are handled.
   */
  streamData?: boolean;
}

/** `pending`: a TLS link whose handshake is not yet checked; `sniff`: a plain caller's first byte is still to be looked at. */
export type SockData = {
  link?: Link;
  /** A TLS link whose handshake is not finished, and the timer that drops it if it never is. */
  pending?: Link;
  handshakeTimer?: ReturnType<typeof setTimeout>;
  sniff?: boolean;
};

/** How long end() waits for the queue to empty and the peer to close before dropping the link. */
const GRACE_MS = 2000;

export class Link {
  private readonly decoder: FrameDecoder;
  private readonly out: WriteQueue;
  private ending = false;
  private closed = false;
  /** The inbound stream broke: further bytes are ignored. */
  private broken = false;
  private events: LinkEvents | null = null;
  /** Over TLS: the fingerprint of the certificate the other end presented (null: none, or plain TCP). */
  peerFingerprint: string | null = null;

  constructor(
    private readonly sock: Socket<SockData>,
    opts: LinkOptions,
    policy = writePolicy(opts),
  ) {
    this.decoder = new FrameDecoder(opts.maxFrame, { streamData: opts.streamData === true });
    this.out = new WriteQueue(new SocketSink(sock, this), policy);
  }

  get highWater(): number {
    return this.out.policy.highWater;
  }
  get maxQueued(): number {
    return this.out.policy.maxQueued;
  }
  get remoteAddress(): string {
    return this.sock.remoteAddress ?? "?";
  }
  get isOpen(): boolean {
    return !this.closed && !this.ending;
  }
  get queuedBytes(): number {
    return this.out.queuedBytes;
  }
  /**
   * Bytes the kernel has taken from this link so far. Right after a send(), the
   * sent bytes end at sentBytes + queuedBytes: once sentBytes reaches that, the
   * link holds no view of them any more (their buffer may be reused).
   */
  get sentBytes(): number {
    return this.out.sentBytes;
  }
  get isClosed(): boolean {
    return this.closed;
  }

  /** Attach the consumer; frames that arrive before this are not possible (we attach on open). */
  attach(events: LinkEvents): void {
    this.events = events;
  }

  /**
   * Queue bytes for sending (see WriteQueue for how they are coalesced). Returns
   * false when the caller should await drained(). Never throws; on a closed or
   * ending link it does nothing and returns false.
   */
  send(bytes: Uint8Array): boolean {
    if (this.closed || this.ending) return false;
    return this.out.send(bytes);
  }

  /** send() of a frame of at most `max` bytes that `fill` writes, straight into the held bytes when it can (WriteQueue.sendWith). */
  sendWith<T>(max: number, fill: FrameFill<T>, value: T): boolean {
    if (this.closed || this.ending) return false;
    return this.out.sendWith(max, fill, value);
  }

  /** Resolves when the queue is under the high-water mark again (or the link closed). */
  drained(): Promise<void> {
    return this.out.drained();
  }

  /** Raise (or lower) the frame limit for frames not started yet (see FrameDecoder.setMaxFrame). */
  setMaxFrame(n: number): void {
    this.decoder.setMaxFrame(n);
  }

  pause(): void {
    if (!this.closed) this.sock.pause();
  }
  resume(): void {
    if (!this.closed) this.sock.resume();
  }

  /**
   * Graceful close: flush what is queued, send FIN, and drop it if the peer lingers
   * (a peer that stops reading never lets the queue empty). Safe to call at any time.
   */
  end(): void {
    if (this.closed || this.ending) return;
    this.out.flush();
    if (this.closed) return;
    this.ending = true;
    if (!this.out.hasBacklog) this.shutdown();
    const t = setTimeout(() => this.destroy("closed"), GRACE_MS);
    (t as any).unref?.();
  }

  /** Hard close now. Safe to call at any time, any number of times. */
  destroy(reason = "closed"): void {
    if (this.closed) return;
    this.finish(reason);
    try {
      this.sock.terminate();
    } catch {
      // already gone
    }
  }

  // ---- called by the socket handlers below ----

  onData(chunk: Uint8Array): void {
    if (this.closed || this.broken) return;
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (e) {
      const why = e instanceof FrameError ? `bad frame: ${e.message}` : String(e);
      this.broken = true;
      if (this.events?.bad) this.events.bad(why);
      else this.destroy(why);
      return;
    }
    for (const f of frames) {
      if (this.closed) return;
      try {
        this.events?.frame(f);
      } catch (e) {
        // A consumer bug: lose this link, not the process.
        this.destroy(`internal error: ${(e as Error).message ?? e}`);
        return;
      }
    }
  }

  onDrain(): void {
    this.out.onDrain();
    // FIN only after the last queued byte (shutdown() is a half-close: what the
    // kernel holds still goes; socket.end() could lose it).
    if (this.ending && !this.out.hasBacklog) this.shutdown();
  }

  onSocketClosed(reason: string): void {
    this.finish(reason);
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.out.close();
    this.events?.close(reason);
  }

  private shutdown(): void {
    try {
      this.sock.shutdown();
    } catch {
      // already gone; the close handler or the grace timer finishes the link
    }
  }
}

