/**
 * A raw protocol client for the hardening tests: speaks frames directly over a
 * Bun socket on 127.0.0.1, so a test can send exactly the bytes it wants (garbage,
 * oversized headers, truncated frames, floods) and read the server's answers as
 * decoded messages. Writes are queued and flushed on `drain`, so large floods are
 * sent whole. Every socket opened here is closed by `closeAllRaw()` (call it from
 * afterEach, next to the harness's cleanup).
 */
import type { Socket } from "bun";
import { encodeFrame, FrameDecoder, KIND_JSON } from "../../src/protocol/frame.ts";
import { APP_NAME, decodeServer, MAX_SERVER_FRAME, PROTOCOL_VERSION, type ServerMsg } from "../../src/protocol/messages.ts";

const utf8 = new TextEncoder();

/** A JSON frame for any value (valid or not as a message). */
export function jsonFrame(value: unknown): Uint8Array {
  return encodeFrame(KIND_JSON, utf8.encode(JSON.stringify(value)));
}

/** A frame header announcing `len` bytes of (kind + body), with the kind byte. */
export function header(len: number, kind = KIND_JSON): Uint8Array {
  const out = new Uint8Array(5);
  new DataView(out.buffer).setUint32(0, len >>> 0);
  out[4] = kind;
  return out;
}

export const HELLO = { t: "hello", v: PROTOCOL_VERSION, app: APP_NAME };

const open = new Set<RawConn>();

/** Close every raw socket still open. */
export function closeAllRaw(): void {
  for (const c of open) c.destroy();
  open.clear();
}

type Got = ServerMsg | { t: "<closed>" };

export class RawConn {
  private sock!: Socket<undefined>;
  private decoder = new FrameDecoder(MAX_SERVER_FRAME);
  private inbox: Got[] = [];
  private wake: (() => void) | null = null;
  private out: Uint8Array[] = [];
  /** Messages received so far (all of them, including ones consumed by next()). */
  readonly received: ServerMsg[] = [];
  /** Bytes received so far. */
  bytesIn = 0;
  closed = false;
  /** Resolves when the socket is closed (by either side). */
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  private constructor() {
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  static async open(port: number): Promise<RawConn> {
    const c = new RawConn();
    c.sock = await Bun.connect<undefined>({
      hostname: "127.0.0.1",
      port,
      socket: {
        data: (_s, chunk) => c.onData(chunk),
        drain: () => c.flush(),
        close: () => c.onClose(),
        end: () => c.onClose(),
        error: () => c.onClose(),
        connectError: () => {},
      },
    });
    open.add(c);
    return c;
  }

  /** Open, say hello and wait for hello_ok. */
  static async hello(port: number): Promise<RawConn> {
    const c = await RawConn.open(port);
    c.send(HELLO);
    const m = await c.next();
    if (m.t !== "hello_ok") throw new Error(`expected hello_ok, got ${JSON.stringify(m)}`);
    return c;
  }

  /** Open, hello, log in; throws unless the login succeeds. */
  static async login(port: number, user: string, pass: string): Promise<RawConn> {
    const c = await RawConn.hello(port);
    c.send({ t: "login", user, pass });
    const m = await c.waitFor((x) => x.t === "login_result");
    if (m.t !== "login_result" || m.code !== "ok") throw new Error(`login ${user}: ${JSON.stringify(m)}`);
    return c;
  }

  /** Send raw bytes (queued behind anything not yet taken by the kernel). */
  sendBytes(bytes: Uint8Array): void {
    if (this.closed) return;
    this.out.push(bytes);
    if (this.out.length === 1) this.flush();
  }

  /** Send one message as a JSON frame. */
  send(value: unknown): void {
    this.sendBytes(jsonFrame(value));
  }

  /** Bytes not yet taken by the kernel. */
  get unsent(): number {
    return this.out.reduce((n, b) => n + b.byteLength, 0);
  }

  /** Stop reading (the kernel buffers fill, then the server's queue grows). */
  pause(): void {
    this.sock.pause();
  }

  /** Next message, or {t:"<closed>"} once the server has closed the link. */
  async next(ms = 5000): Promise<Got> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.inbox.shift();
      if (m) return m;
      if (this.closed) return { t: "<closed>" };
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${ms} ms; received so far: ${this.summary()}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  /** Skip messages until one matches; throws on timeout or close. */
  async waitFor(pred: (m: ServerMsg) => boolean, ms = 5000): Promise<ServerMsg> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = await this.next(Math.max(1, deadline - Date.now()));
      if (m.t === "<closed>") throw new Error(`closed before the awaited message; received: ${this.summary()}`);
      if (pred(m)) return m;
    }
  }

  /** Resolves true if the server closes the link within ms, false otherwise. */
  async closedWithin(ms: number): Promise<boolean> {
    let t: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((r) => (t = setTimeout(() => r(false), ms)));
    const r = await Promise.race([this.done.then(() => true), late]);
    clearTimeout(t);
    return r;
  }

  end(): void {
    if (!this.closed) this.sock.end();
  }

  destroy(): void {
    if (!this.closed) this.sock.terminate();
    this.onClose();
  }

  summary(): string {
    return this.received.map((m) => JSON.stringify(m).slice(0, 120)).slice(-10).join("\n  ") || "(nothing)";
  }

  private flush(): void {
    while (this.out.length > 0 && !this.closed) {
      const head = this.out[0]!;
      const n = this.sock.write(head);
      if (n < 0) return this.onClose();
      if (n < head.byteLength) {
        this.out[0] = head.subarray(n);
        return;
      }
      this.out.shift();
    }
  }

  private onData(chunk: Uint8Array): void {
    this.bytesIn += chunk.byteLength;
    for (const f of this.decoder.push(chunk)) {
      const m = decodeServer(f.body);
      if (typeof m === "string") throw new Error(`server sent an invalid message: ${m}`);
      this.received.push(m);
      this.inbox.push(m);
    }
    this.wake?.();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.out = [];
    open.delete(this);
    this.resolveDone();
    this.wake?.();
  }
}

/** VmRSS of a process, in bytes (Linux /proc). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}
