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
   * Bytes sent as a `burst` (see send) do not count until they have left.
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
   * (BUN-NOTES), and the decoder keeps none of it, so a consumer may take a
   * buffer over once the frames of its read are handled.
   */
  streamData?: boolean;
}

type SockData = { link?: Link };

const GRACE_MS = 2000;

/**
 * Write coalescing. Small sends are held per link and written once the callback
 * that made them returns (a microtask; or at the end of the event-loop turn with
 * `flushPerTurn`): a chunk of 32 messages then costs the sender one write and the
 * receiver one, instead of 64 syscalls. Sends of CORK_MAX bytes or more (file
 * data) are written at once, after what is held, so order is kept and big
 * payloads are never copied. sendLazy() holds bytes nobody waits for up to
 * LAZY_MS longer.
 */
const CORK_MAX = 16 * 1024;
/** Most bytes held per link before they are written: bounds `scratch` (a long run of sends, e.g. the offline backlog, is written as it goes). */
const CORK_LIMIT = 64 * 1024;
const corkedLinks: Link[] = [];
let flushScheduled = false;
const turnLinks: Link[] = [];
let turnScheduled = false;
/** How long sendLazy() bytes may wait for company (presence notices during a login storm). */
const LAZY_MS = 100;
const lazyLinks: Link[] = [];
let lazyScheduled = false;
/** One buffer to gather a link's held frames into a single write (write() copies to the kernel). */
let scratch = new Uint8Array(64 * 1024);

function flushCorked(): void {
  flushScheduled = false;
  // A flush can cork nothing new (it only writes), but stay safe if it ever does.
  for (let i = 0; i < corkedLinks.length; i++) corkedLinks[i]!.uncork();
  corkedLinks.length = 0;
}

function flushTurn(): void {
  turnScheduled = false;
  for (let i = 0; i < turnLinks.length; i++) turnLinks[i]!.uncork();
  turnLinks.length = 0;
}

function flushLazy(): void {
  lazyScheduled = false;
  for (let i = 0; i < lazyLinks.length; i++) lazyLinks[i]!.uncorkLazy();
  lazyLinks.length = 0;
}

export class Link {
  private readonly decoder: FrameDecoder;
  private queue: Uint8Array[] = [];
  private queued = 0;
  /** Allowance over maxQueued for burst bytes still queued (shrinks as bytes leave). */
  private burstAllowance = 0;
  private waiters: (() => void)[] = [];
  /** Held small sends, written by uncork() (their bytes count in `queued`). */
  private corked: Uint8Array[] = [];
  private corkedBytes = 0;
  private corkedBurst = 0;
  /** 0: nothing held; 1: held for the lazy timer; 2: held for this turn's flush. */
  private corkState = 0;
  private ending = false;
  private closed = false;
  private sent = 0;
  /** The inbound stream broke: further bytes are ignored. */
  private broken = false;
  private events: LinkEvents | null = null;
  readonly highWater: number;
  readonly maxQueued: number;
  private readonly flushPerTurn: boolean;

  constructor(
    private readonly sock: Socket<SockData>,
    opts: LinkOptions,
  ) {
    this.decoder = new FrameDecoder(opts.maxFrame, { streamData: opts.streamData === true });
    this.highWater = opts.highWater ?? 1 << 20;
    this.maxQueued = opts.maxQueued ?? 64 << 20;
    this.flushPerTurn = opts.flushPerTurn ?? false;
  }

  get remoteAddress(): string {
    return this.sock.remoteAddress ?? "?";
  }
  get isOpen(): boolean {
    return !this.closed && !this.ending;
  }
  get queuedBytes(): number {
    return this.queued;
  }
  /**
   * Bytes the kernel has taken from this link so far. Right after a send(), the
   * sent bytes end at sentBytes + queuedBytes: once sentBytes reaches that, the
   * link holds no view of them any more (their buffer may be reused).
   */
  get sentBytes(): number {
    return this.sent;
  }
  get isClosed(): boolean {
    return this.closed;
  }

  /** Attach the consumer; frames that arrive before this are not possible (we attach on open). */
  attach(events: LinkEvents): void {
    this.events = events;
  }

  /**
   * Queue bytes for sending. Returns false when the caller should await drained().
   * Never throws; on a closed or ending link it does nothing and returns false.
   *
   * `burst`: bytes the peer is known to be waiting for, all at once (the offline
   * backlog at login). They may take the queue past maxQueued; only what is
   * queued beyond them counts as "not reading".
   */
  send(bytes: Uint8Array, burst = false): boolean {
    if (this.closed || this.ending) return false;
    if (this.corkedBytes + bytes.byteLength > CORK_LIMIT) {
      this.uncork();
      if (this.closed) return false;
    }
    if (this.queue.length === 0 && bytes.byteLength < CORK_MAX) {
      if (this.corkState !== 2) {
        this.corkState = 2;
        if (this.flushPerTurn) {
          turnLinks.push(this);
          if (!turnScheduled) {
            turnScheduled = true;
            setImmediate(flushTurn);
          }
        } else {
          corkedLinks.push(this);
          if (!flushScheduled) {
            flushScheduled = true;
            queueMicrotask(flushCorked);
          }
        }
      }
      return this.hold(bytes, burst);
    }
    if (this.corked.length > 0) this.uncork();
    if (this.closed) return false;
    if (this.queue.length === 0) {
      const n = this.write(bytes);
      if (n < 0) {
        this.destroy("socket closed");
        return false;
      }
      if (n === bytes.byteLength) return true;
      bytes = bytes.subarray(n);
    }
    this.queue.push(bytes);
    this.queued += bytes.byteLength;
    if (burst) this.burstAllowance += bytes.byteLength;
    if (this.queued > this.maxQueued + this.burstAllowance) {
      this.destroy(`peer not reading (${this.queued} bytes queued)`);
      return false;
    }
    return this.queued < this.highWater;
  }

  /**
   * send() for bytes nobody is waiting on (presence notices): they may be held up
   * to LAZY_MS, to leave in one write with what else this link gets meanwhile.
   * Order on the link is kept: any send() in the meantime takes them along.
   */
  sendLazy(bytes: Uint8Array): boolean {
    if (this.closed || this.ending) return false;
    if (this.queue.length > 0 || bytes.byteLength >= CORK_MAX || this.corkedBytes + bytes.byteLength > CORK_LIMIT) {
      return this.send(bytes);
    }
    if (this.corkState === 0) {
      this.corkState = 1;
      lazyLinks.push(this);
      if (!lazyScheduled) {
        lazyScheduled = true;
        setTimeout(flushLazy, LAZY_MS);
      }
    }
    return this.hold(bytes, false);
  }

  private hold(bytes: Uint8Array, burst: boolean): boolean {
    this.corked.push(bytes);
    this.corkedBytes += bytes.byteLength;
    if (burst) this.corkedBurst += bytes.byteLength;
    this.queued += bytes.byteLength;
    if (this.queued > this.maxQueued + this.burstAllowance + this.corkedBurst) {
      this.destroy(`peer not reading (${this.queued} bytes queued)`);
      return false;
    }
    return this.queued < this.highWater;
  }

  /** The lazy timer: write what sendLazy() held, unless a send() took charge of it. */
  uncorkLazy(): void {
    if (this.corkState === 1) this.uncork();
  }

  /** Write what send() held back, as one write; queue what the kernel did not take. */
  uncork(): void {
    this.corkState = 0;
    const n = this.corked.length;
    if (n === 0 || this.closed) return;
    const total = this.corkedBytes;
    const burst = this.corkedBurst;
    let out: Uint8Array;
    if (n === 1) {
      out = this.corked[0]!;
    } else {
      if (scratch.byteLength < total) scratch = new Uint8Array(Math.max(total, scratch.byteLength * 2));
      let at = 0;
      for (let i = 0; i < n; i++) {
        const part = this.corked[i]!;
        scratch.set(part, at);
        at += part.byteLength;
      }
      out = scratch.subarray(0, total);
    }
    // A new array, not length = 0: the engine keeps a grown array's storage (after a
    // login storm, KiBs per idle link; measured with heap stats).
    this.corked = [];
    this.corkedBytes = 0;
    this.corkedBurst = 0;
    this.queued -= total;
    // The queue is empty here: sends are held only while it is, and anything that
    // queues (a big send, this) writes the held bytes first.
    const w = this.write(out);
    if (w < 0) {
      this.destroy("socket closed");
      return;
    }
    if (w < total) {
      // scratch is reused: keep a copy of the rest.
      const rest = n === 1 ? out.subarray(w) : out.slice(w);
      this.enqueue(rest, Math.min(burst, rest.byteLength));
    } else if (this.waiters.length > 0 && this.queued < this.highWater) {
      this.wake();
    }
  }

  private enqueue(bytes: Uint8Array, burstBytes: number): void {
    this.queue.push(bytes);
    this.queued += bytes.byteLength;
    this.burstAllowance += burstBytes;
    if (this.queued > this.maxQueued + this.burstAllowance) {
      this.destroy(`peer not reading (${this.queued} bytes queued)`);
    }
  }

  /** Resolves when the queue is under the high-water mark again (or the link closed). */
  drained(): Promise<void> {
    if (this.queued < this.highWater || this.closed) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
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
    this.uncork();
    if (this.closed) return;
    this.ending = true;
    if (this.queue.length === 0) this.shutdown();
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
    const q = this.queue;
    while (q.length > 0) {
      // Small queued frames leave together, up to CORK_LIMIT per write (an offline
      // backlog of 100 000 frames was 100 000 writes); big ones alone, uncopied.
      let k = 1;
      let total = q[0]!.byteLength;
      if (total < CORK_MAX) {
        while (k < q.length && q[k]!.byteLength < CORK_MAX && total + q[k]!.byteLength <= CORK_LIMIT) total += q[k++]!.byteLength;
      }
      let out = q[0]!;
      if (k > 1) {
        if (scratch.byteLength < total) scratch = new Uint8Array(Math.max(total, scratch.byteLength * 2));
        for (let i = 0, at = 0; i < k; at += q[i]!.byteLength, i++) scratch.set(q[i]!, at);
        out = scratch.subarray(0, total);
      }
      const n = this.write(out);
      if (n < 0) return;
      this.queued -= n;
      // Counted as burst bytes leaving first: the allowance never outlives the burst.
      this.burstAllowance = Math.max(0, this.burstAllowance - n);
      let done = 0;
      for (let left = n; done < k && left >= q[done]!.byteLength; done++) left -= q[done]!.byteLength;
      if (n < total) {
        const written = q.slice(0, done).reduce((a, b) => a + b.byteLength, 0);
        q[done] = q[done]!.subarray(n - written);
        q.splice(0, done);
        return;
      }
      q.splice(0, k);
    }
    // A fresh array: a drained long queue would otherwise keep its storage.
    this.queue = [];
    if (this.queued < this.highWater) this.wake();
    if (this.queue.length === 0 && this.ending) this.shutdown();
  }

  onSocketClosed(reason: string): void {
    this.finish(reason);
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.corked = [];
    this.corkedBytes = 0;
    this.corkedBurst = 0;
    this.corkState = 0;
    this.queued = 0;
    this.burstAllowance = 0;
    this.wake();
    this.events?.close(reason);
  }

  /** socket.write, never throwing: -1 when the socket is gone. */
  private write(bytes: Uint8Array): number {
    try {
      const n = this.sock.write(bytes);
      if (n > 0) this.sent += n;
      return n;
    } catch {
      return -1;
    }
  }

  private shutdown(): void {
    try {
      this.sock.shutdown();
    } catch {
      // already gone; the close handler or the grace timer finishes the link
    }
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
