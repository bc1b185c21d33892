/**
 * The one framed-socket wrapper every link uses (client↔server, peer chat, chunk
 * transfer). It owns the socket's writes: Bun's socket.write() sends what the
 * kernel takes and drops the rest, so everything goes through a queue flushed on
 * `drain`. Nobody else calls socket.write.
 */
import type { Socket, TCPSocketListener } from "bun";
import { FrameDecoder, FrameError, type Frame } from "../protocol/frame.ts";

export interface LinkEvents {
  frame(frame: Frame): void;
  /** Called once, when the link is gone for whatever reason. */
  close(reason: string): void;
}

export interface LinkOptions {
  maxFrame: number;
  /** send() returns false once this many bytes wait in the queue. */
  highWater?: number;
  /** A peer that lets more than this pile up is not reading: the link is dropped. */
  maxQueued?: number;
}

type SockData = { link?: Link };

const GRACE_MS = 2000;

export class Link {
  private readonly decoder: FrameDecoder;
  private queue: Uint8Array[] = [];
  private queued = 0;
  private waiters: (() => void)[] = [];
  private ending = false;
  private closed = false;
  private events: LinkEvents | null = null;
  readonly highWater: number;
  readonly maxQueued: number;

  constructor(
    private readonly sock: Socket<SockData>,
    opts: LinkOptions,
  ) {
    this.decoder = new FrameDecoder(opts.maxFrame);
    this.highWater = opts.highWater ?? 1 << 20;
    this.maxQueued = opts.maxQueued ?? 64 << 20;
  }

  get remoteAddress(): string {
    return this.sock.remoteAddress;
  }
  get isOpen(): boolean {
    return !this.closed && !this.ending;
  }
  get queuedBytes(): number {
    return this.queued;
  }

  /** Attach the consumer; frames that arrive before this are not possible (we attach on open). */
  attach(events: LinkEvents): void {
    this.events = events;
  }

  /** Queue bytes for sending. Returns false when the caller should await drained(). */
  send(bytes: Uint8Array): boolean {
    if (this.closed || this.ending) return false;
    if (this.queue.length === 0) {
      const n = this.sock.write(bytes);
      if (n < 0) {
        this.destroy("socket closed");
        return false;
      }
      if (n === bytes.byteLength) return true;
      bytes = bytes.subarray(n);
    }
    this.queue.push(bytes);
    this.queued += bytes.byteLength;
    if (this.queued > this.maxQueued) {
      this.destroy(`peer not reading (${this.queued} bytes queued)`);
      return false;
    }
    return this.queued < this.highWater;
  }

  /** Resolves when the queue is under the high-water mark again (or the link closed). */
  drained(): Promise<void> {
    if (this.queued < this.highWater || this.closed) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  pause(): void {
    this.sock.pause();
  }
  resume(): void {
    this.sock.resume();
  }

  /** Graceful close: flush what is queued, send FIN, and drop it if the peer lingers. */
  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    if (this.queue.length === 0) this.sock.shutdown();
    const t = setTimeout(() => this.destroy("closed"), GRACE_MS);
    (t as any).unref?.();
  }

  /** Hard close now. */
  destroy(reason = "closed"): void {
    if (this.closed) return;
    this.finish(reason);
    this.sock.terminate();
  }

  // ---- called by the socket handlers below ----

  onData(chunk: Uint8Array): void {
    if (this.closed) return;
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (e) {
      this.destroy(e instanceof FrameError ? `bad frame: ${e.message}` : String(e));
      return;
    }
    for (const f of frames) {
      if (this.closed) return;
      this.events?.frame(f);
    }
  }

  onDrain(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const n = this.sock.write(head);
      if (n < 0) return;
      this.queued -= n;
      if (n < head.byteLength) {
        this.queue[0] = head.subarray(n);
        return;
      }
      this.queue.shift();
    }
    if (this.queued < this.highWater) this.wake();
    if (this.queue.length === 0 && this.ending) this.sock.shutdown();
  }

  onSocketClosed(reason: string): void {
    this.finish(reason);
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queued = 0;
    this.wake();
    this.events?.close(reason);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

function handlers(opts: LinkOptions, onOpen?: (link: Link) => void) {
  return {
    open(s: Socket<SockData>) {
      s.setNoDelay(true);
      s.data = { link: new Link(s, opts) };
      onOpen?.(s.data.link!);
    },
    data(s: Socket<SockData>, chunk: Uint8Array) {
      s.data.link?.onData(chunk);
    },
    drain(s: Socket<SockData>) {
      s.data.link?.onDrain();
    },
    end(s: Socket<SockData>) {
      // Peer sent FIN: finish our side too.
      s.data.link?.end();
    },
    close(s: Socket<SockData>, err?: Error) {
      s.data?.link?.onSocketClosed(err ? `connection lost (${(err as any).code ?? err.message})` : "closed by peer");
    },
    error(s: Socket<SockData>, err: Error) {
      s.data?.link?.destroy(`socket error: ${err.message}`);
    },
  };
}

/** Listen for framed links. `onLink` must attach() synchronously. */
export function listenLinks(
  hostname: string,
  port: number,
  opts: LinkOptions,
  onLink: (link: Link) => void,
): TCPSocketListener<SockData> {
  return Bun.listen<SockData>({ hostname, port, socket: handlers(opts, onLink) });
}

/** Connect a framed link. Rejects with the OS error (e.g. ECONNREFUSED). */
export async function connectLink(hostname: string, port: number, opts: LinkOptions, events: LinkEvents): Promise<Link> {
  const h = handlers(opts, (link) => link.attach(events));
  const sock = await Bun.connect<SockData>({
    hostname,
    port,
    socket: { ...h, connectError() {} },
    data: {},
  });
  return sock.data.link!;
}
