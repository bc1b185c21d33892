/**
 * The load generator's TCP connection: Bun.connect plus a write queue that
 * coalesces every write made in one tick into a single socket write and keeps
 * what the kernel did not take for `drain` (Bun's write() does not buffer).
 * Both protocol adapters use it, so the loadgen costs the same per byte whatever
 * server it drives, and it stays the same instrument while the server changes.
 *
 * Writes are copied into one held buffer per connection, reused from flush to
 * flush (Bun's socket.write copies what the kernel takes before it returns), so
 * a flush is one socket write with no Buffer.concat and no allocation.
 */
import type { Socket } from "bun";

export type SockHandlers = {
  data(chunk: Uint8Array): void;
  close(reason: string): void;
};

type Data = { conn?: BenchSocket };

const dirty: BenchSocket[] = [];
const EMPTY = Buffer.alloc(0);

/**
 * When the read being handled arrived (performance.now), taken once per socket
 * read, when first asked: every message of one read arrived together, and a
 * clock call per message was about a tenth of the loadgen's CPU at 500k/s.
 */
let readAt = NaN;
export function readTime(): number {
  if (readAt !== readAt) readAt = performance.now();
  return readAt;
}

/** A connection's held buffer starts this small (10 000 idle ones hold ~1 KiB each) and doubles as needed. */
const HELD_START = 1024;
let flushQueued = false;
function flushAll(): void {
  flushQueued = false;
  const list = dirty.splice(0);
  for (const c of list) c.flush();
}

export class BenchSocket {
  /** What was written this tick: held[0, heldBytes). */
  private held = EMPTY;
  private heldBytes = 0;
  private backlog: Uint8Array | null = null; // what the kernel did not take
  private marked = false;
  closed = false;

  private constructor(
    private sock: Socket<Data> | null,
    private readonly h: SockHandlers,
  ) {}

  /**
   * `tls`: speak TLS (the server's certificate is not checked: a measurement, not a
   * client), resolving once the handshake is done, as a real client sends nothing before.
   */
  static async connect(port: number, h: SockHandlers, host = "127.0.0.1", tls = false): Promise<BenchSocket> {
    const c = new BenchSocket(null, h);
    let handshaken!: () => void;
    const ready = new Promise<void>((r) => (handshaken = r));
    const sock = await Bun.connect<Data>({
      hostname: host,
      port,
      data: { conn: c },
      ...(tls ? { tls: { rejectUnauthorized: false } } : {}),
      socket: {
        open(s) {
          s.setNoDelay(true);
        },
        handshake() {
          handshaken();
        },
        data(s, chunk) {
          readAt = NaN;
          s.data.conn?.h.data(chunk);
        },
        drain(s) {
          s.data.conn?.onDrain();
        },
        end(s) {
          s.data.conn?.gone("closed by server");
        },
        close(s, err) {
          s.data.conn?.gone(err ? `connection lost (${(err as any).code ?? err.message})` : "closed");
        },
        error(s, err) {
          s.data.conn?.gone(`socket error: ${err.message}`);
        },
        connectError() {},
      },
    });
    c.sock = sock;
    if (tls) await ready;
    return c;
  }

  /**
   * Queue a copy of `bytes`; they leave with everything else written in this tick.
   * Returns where the copy sits in `heldBytesView()` until then, so a caller may
   * fill in a field of a template it wrote (-1 once closed).
   */
  write(bytes: Uint8Array): number {
    if (this.closed) return -1;
    const at = this.heldBytes;
    if (at + bytes.byteLength > this.held.byteLength) {
      const bigger = Buffer.allocUnsafe(Math.max(HELD_START, 2 * this.held.byteLength, at + bytes.byteLength));
      bigger.set(this.held.subarray(0, at));
      this.held = bigger;
    }
    this.held.set(bytes, at);
    this.heldBytes = at + bytes.byteLength;
    this.mark();
    return at;
  }

  /** The held bytes of this tick (valid until the next write or flush). */
  heldBytesView(): Buffer {
    return this.held;
  }

  private mark(): void {
    if (!this.marked) {
      this.marked = true;
      dirty.push(this);
      if (!flushQueued) {
        flushQueued = true;
        queueMicrotask(flushAll);
      }
    }
  }

  /** Bytes not yet taken by the kernel. */
  get queued(): number {
    return this.heldBytes + (this.backlog?.byteLength ?? 0);
  }

  flush(): void {
    this.marked = false;
    if (this.closed || this.heldBytes === 0) return;
    const out = this.held.subarray(0, this.heldBytes);
    this.heldBytes = 0;
    if (this.backlog) {
      this.backlog = Buffer.concat([this.backlog, out]);
      return;
    }
    const n = this.sock!.write(out);
    if (n < 0) return this.gone("write on a closed socket");
    // A copy: the held buffer is written over from the next tick on.
    if (n < out.byteLength) this.backlog = Buffer.from(out.subarray(n));
  }

  private onDrain(): void {
    if (!this.backlog || this.closed) return;
    const n = this.sock!.write(this.backlog);
    if (n < 0) return this.gone("write on a closed socket");
    this.backlog = n < this.backlog.byteLength ? this.backlog.subarray(n) : null;
  }

  /** Close now (the bench does not need a graceful goodbye). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock?.terminate();
  }

  private gone(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.sock?.terminate();
    this.h.close(reason);
  }
}
