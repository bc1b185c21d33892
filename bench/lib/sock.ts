/**
 * The load generator's TCP connection: Bun.connect plus a write queue that
 * coalesces every write made in one tick into a single socket write and keeps
 * what the kernel did not take for `drain` (Bun's write() does not buffer).
 * Both protocol adapters use it, so the loadgen costs the same per byte whatever
 * server it drives, and it stays the same instrument while the server changes.
 */
import type { Socket } from "bun";

export type SockHandlers = {
  data(chunk: Uint8Array): void;
  close(reason: string): void;
};

type Data = { conn?: BenchSocket };

const dirty: BenchSocket[] = [];
let flushQueued = false;
function flushAll(): void {
  flushQueued = false;
  const list = dirty.splice(0);
  for (const c of list) c.flush();
}

export class BenchSocket {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
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

  /** Queue bytes; they leave with everything else written in this tick. */
  write(bytes: Uint8Array): void {
    if (this.closed) return;
    this.pending.push(bytes);
    this.pendingBytes += bytes.byteLength;
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
    return this.pendingBytes + (this.backlog?.byteLength ?? 0);
  }

  flush(): void {
    this.marked = false;
    if (this.closed || this.pending.length === 0) return;
    const out = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (this.backlog) {
      this.backlog = Buffer.concat([this.backlog, out]);
      return;
    }
    const n = this.sock!.write(out);
    if (n < 0) return this.gone("write on a closed socket");
    if (n < out.byteLength) this.backlog = out.subarray(n);
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
