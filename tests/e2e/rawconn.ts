/**
 * Raw protocol connections for end-to-end tests that must speak the wire protocol
 * themselves: the hardening tests (garbage, oversized headers, truncated frames,
 * floods) and the peer-port tests (forged or replayed handshakes, a protocol-level
 * login to get a genuine peer token). Frames are built with the project's own codec
 * (src/protocol), so a frame sent here is byte-for-byte what a real client sends.
 *
 * Two kinds of far end:
 * - the server (`open`, `hello`, `login`): every message received is checked
 *   against the server → client schema and typed as a ServerMsg, whether it came as
 *   JSON or (once hello_ok said version 3) as a compact frame — `kindOf` tells which;
 *   frames up to MAX_SERVER_FRAME;
 * - a client's peer port (`openPeer`): any JSON message is taken as it is (the tests
 *   look at whatever arrives), a binary frame shows as `<binary kind N>`; frames up
 *   to MAX_PEER_FRAME.
 * Whatever cannot be decoded is kept as an `<undecodable>` entry, so it shows in
 * error messages instead of vanishing.
 *
 * Writes are queued and flushed on `drain`: a socket write may take only part of the
 * bytes (the rest would be dropped silently), so large floods are sent whole.
 * Every connection opened here is closed by `closeAllRaw()` (call it from afterEach,
 * next to the harness's cleanup).
 */
import type { Socket } from "bun";
import { COMPACT_VERSION, decodeServerFrame, encodeCompactClient } from "../../src/protocol/compact.ts";
import { encodeFrame, type Frame, FrameDecoder, KIND_COMPACT, KIND_JSON } from "../../src/protocol/frame.ts";
import {
  APP_NAME,
  type ClientMsg,
  MAX_PEER_FRAME,
  MAX_SERVER_FRAME,
  PROTOCOL_VERSION,
  type ServerMsg,
} from "../../src/protocol/messages.ts";
import { createIdentity, type Identity } from "../../src/net/identity.ts";
import { PASSWORDS } from "./harness.ts";

let shared: Promise<Identity> | null = null;
/**
 * The peer identity raw connections use unless told otherwise: raw logins give its
 * fingerprint as their peerCert, raw peer links present it (peer links are mutual TLS).
 */
export function rawPeerIdentity(): Promise<Identity> {
  return (shared ??= createIdentity("raw test peer"));
}

const utf8 = new TextEncoder();

/** A JSON frame for any value (valid or not as a message). */
export function jsonFrame(value: unknown): Uint8Array {
  return encodeFrame(KIND_JSON, utf8.encode(JSON.stringify(value)));
}

/** A compact frame (kind 3) around any body (valid or not). */
export function compactFrame(body: Uint8Array | number[]): Uint8Array {
  return encodeFrame(KIND_COMPACT, Uint8Array.from(body));
}

/** A frame header announcing `len` bytes of (kind + body), with the kind byte. */
export function header(len: number, kind = KIND_JSON): Uint8Array {
  const out = new Uint8Array(5);
  new DataView(out.buffer).setUint32(0, len >>> 0);
  out[4] = kind;
  return out;
}

export const HELLO = { t: "hello", v: PROTOCOL_VERSION, app: APP_NAME };

/** A decoded JSON message from a peer port (not schema-checked). */
export type RawMsg = { t: string; [k: string]: unknown };

/** What `next()` can return besides a message. */
export type Marker = { t: "<closed>" } | { t: "<undecodable>"; detail: string };

/**
 * How to read what one kind of far end sends; `compact`: the far end said hello_ok
 * with version 3 or later, so compact frames are allowed from now on.
 */
type FarEnd<M> = { maxFrame: number; decode(f: Frame, compact: boolean): M | string };

const SERVER: FarEnd<ServerMsg> = {
  maxFrame: MAX_SERVER_FRAME,
  decode: (f, compact) => decodeServerFrame(f, compact),
};

const PEER: FarEnd<RawMsg> = {
  maxFrame: MAX_PEER_FRAME,
  decode(f) {
    if (f.kind !== KIND_JSON) return { t: `<binary kind ${f.kind}>` };
    try {
      return JSON.parse(new TextDecoder().decode(f.body)) as RawMsg;
    } catch (e) {
      return (e as Error).message;
    }
  },
};

const open = new Set<RawConn<{ t: string }>>();

/** Close every raw connection still open. */
export function closeAllRaw(): void {
  for (const c of open) c.destroy();
  open.clear();
}

export class RawConn<M extends { t: string }> {
  private sock!: Socket<undefined>;
  private readonly decoder: FrameDecoder;
  private inbox: (M | Marker)[] = [];
  private wake: (() => void) | null = null;
  private out: Uint8Array[] = [];
  /** Messages received so far (all of them, including ones consumed by next()). */
  readonly received: M[] = [];
  /** The frame kind each received message came in. */
  private readonly kinds = new WeakMap<M, number>();
  /** The far end agreed on version 3 (hello_ok v ≥ 3): compact frames may come. */
  private compact = false;
  /** Bytes received so far. */
  bytesIn = 0;
  /** Set once the link is closed (by either side) or the socket failed. */
  closed = false;
  /** Resolves when the socket is closed (by either side). */
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  private constructor(private readonly far: FarEnd<M>) {
    this.decoder = new FrameDecoder(far.maxFrame);
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  /**
   * A connection to the server at `port` (nothing sent yet): over TLS, as the
   * server serves by default (its certificate is not checked here), unless `plain`.
   */
  static open(port: number, host = "127.0.0.1", plain = false): Promise<RawConn<ServerMsg>> {
    return RawConn.connect(SERVER, port, host, plain ? undefined : {});
  }

  /**
   * A connection to a client's peer port (nothing sent yet), over TLS presenting
   * `identity` (default rawPeerIdentity(); null: no certificate), or plain TCP with `plain`.
   */
  static async openPeer(
    port: number,
    opts: { host?: string; identity?: Identity | null; plain?: boolean } = {},
  ): Promise<RawConn<RawMsg>> {
    const host = opts.host ?? "127.0.0.1";
    if (opts.plain) return RawConn.connect(PEER, port, host);
    const id = opts.identity === undefined ? await rawPeerIdentity() : opts.identity;
    return RawConn.connect(PEER, port, host, id ? { key: id.key, cert: id.cert } : {});
  }

  /** Open a server connection, say hello (in version `v`, default this build's) and wait for hello_ok. */
  static async hello(port: number, v = PROTOCOL_VERSION): Promise<RawConn<ServerMsg>> {
    const c = await RawConn.open(port);
    c.send({ ...HELLO, v });
    const m = await c.next();
    if (m.t !== "hello_ok") throw new Error(`expected hello_ok, got ${JSON.stringify(m)}`);
    return c;
  }

  /**
   * Open, hello (in version `v` if given), log `user` in (with the shipped password
   * unless `pass` is given, `peerPort` if given, and a peerCert); throws unless the login is `ok`.
   */
  static async login(
    port: number,
    user: string,
    opts: { pass?: string; peerPort?: number; peerCert?: string | null; v?: number } = {},
  ): Promise<RawConn<ServerMsg>> {
    const c = await RawConn.hello(port, opts.v);
    const peer = opts.peerPort === undefined ? {} : { peerPort: opts.peerPort };
    // Its peer certificate, as a client gives it (rawPeerIdentity's unless told otherwise; null: none).
    const cert = opts.peerCert === undefined ? (await rawPeerIdentity()).fingerprint : opts.peerCert;
    c.send({ t: "login", user, pass: opts.pass ?? PASSWORDS[user]!, ...peer, ...(cert ? { peerCert: cert } : {}) });
    const m = await c.waitFor("login_result");
    if (m.t !== "login_result" || m.code !== "ok") throw new Error(`login ${user}: ${JSON.stringify(m)}`);
    return c;
  }

  /**
   * `tls`: speak TLS, presenting `key`/`cert` if given; resolves only once the
   * handshake is done (Bun opens the socket before it, and bytes written then are
   * not what a test means to measure).
   */
  private static async connect<M extends { t: string }>(
    far: FarEnd<M>,
    port: number,
    host: string,
    tls?: { key?: string; cert?: string },
  ): Promise<RawConn<M>> {
    const c = new RawConn(far);
    let handshaken!: () => void;
    const ready = new Promise<void>((r) => (handshaken = r));
    c.sock = await Bun.connect<undefined>({
      hostname: host,
      port,
      ...(tls ? { tls: { ...tls, rejectUnauthorized: false } } : {}),
      socket: {
        handshake: () => handshaken(),
        data: (_s, chunk) => c.onData(chunk),
        drain: () => c.flush(),
        close: () => c.onClose(),
        end: (s) => {
          s.end(); // the far side is done: close ours too (no half-open socket left behind)
          c.onClose();
        },
        error: () => c.onClose(),
        connectError: () => {},
      },
    });
    open.add(c);
    if (tls) await Promise.race([ready, c.done]);
    return c;
  }

  /** Send raw bytes, whatever they are (queued behind anything not yet taken by the kernel). */
  sendBytes(bytes: Uint8Array): void {
    if (this.closed) return;
    this.out.push(bytes);
    if (this.out.length === 1) this.flush();
  }

  /** Send one value as a JSON frame (valid or not as a message). */
  send(value: unknown): void {
    this.sendBytes(jsonFrame(value));
  }

  /** Send a client message as a compact frame; throws if it has none (compact.ts). */
  sendCompact(msg: ClientMsg): void {
    const bytes = encodeCompactClient(msg);
    if (bytes === null) throw new Error(`no compact form for ${JSON.stringify(msg)}`);
    this.sendBytes(bytes);
  }

  /** The kind of the frame a received message came in (KIND_JSON or KIND_COMPACT). */
  kindOf(m: M): number | undefined {
    return this.kinds.get(m);
  }

  /** Bytes not yet taken by the kernel. */
  get unsent(): number {
    return this.out.reduce((n, b) => n + b.byteLength, 0);
  }

  /** Stop reading (the kernel buffers fill, then the far side's queue grows). */
  pause(): void {
    this.sock.pause();
  }

  /** Next thing received, or {t:"<closed>"} once the link is closed; throws after `ms`. */
  async next(ms = 5000): Promise<M | Marker> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.inbox.shift();
      if (m) return m;
      if (this.closed) return { t: "<closed>" };
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${ms} ms; received so far: ${this.summary()}`);
      await this.sleepUntilWoken(left);
    }
  }

  /**
   * The next message matching `want` (a type name, or a predicate); what comes before
   * it is consumed. Throws if the link closes first or `ms` passes.
   */
  async waitFor(want: string | ((m: M) => boolean), ms = 5000): Promise<M> {
    const match = typeof want === "string" ? (m: M) => m.t === want : want;
    const what = typeof want === "string" ? want : "the awaited message";
    const deadline = Date.now() + ms;
    for (;;) {
      const m = await this.next(Math.max(1, deadline - Date.now()));
      if (m.t === "<closed>") throw new Error(`closed before ${what}; received: ${this.summary()}`);
      if (m.t !== "<undecodable>" && match(m as M)) return m as M;
    }
  }

  /** Resolves true if the link is closed within `ms`, false otherwise. */
  async closedWithin(ms: number): Promise<boolean> {
    let t: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((r) => (t = setTimeout(() => r(false), ms)));
    const r = await Promise.race([this.done.then(() => true), late]);
    clearTimeout(t);
    return r;
  }

  /** Close gracefully (FIN). */
  end(): void {
    if (!this.closed) this.sock.end();
  }

  /** Close at once (RST). */
  destroy(): void {
    if (!this.closed) this.sock.terminate();
    this.onClose();
  }

  /** The last few messages received, for error messages. */
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
    try {
      for (const f of this.decoder.push(chunk)) {
        const m = this.far.decode(f, this.compact);
        if (typeof m === "string") {
          this.inbox.push({ t: "<undecodable>", detail: m });
          continue;
        }
        if (m.t === "hello_ok") this.compact = Number((m as { v?: unknown }).v) >= COMPACT_VERSION;
        this.kinds.set(m, f.kind);
        this.received.push(m);
        this.inbox.push(m);
      }
    } catch (e) {
      // A broken frame stream (too large, bad length): nothing after it can be read.
      this.inbox.push({ t: "<undecodable>", detail: (e as Error).message });
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

  private sleepUntilWoken(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      this.wake = () => {
        clearTimeout(t);
        r();
      };
    });
  }
}

/** Send a request with a fresh `id` on a logged-in server connection and wait for its reply. */
let nextId = 1000;
export async function rawRequest(
  c: RawConn<ServerMsg>,
  req: Record<string, unknown>,
  ms = 5000,
): Promise<Extract<ServerMsg, { t: "reply" }>> {
  const id = nextId++;
  c.send({ ...req, id });
  return (await c.waitFor((m) => m.t === "reply" && m.id === id, ms)) as Extract<ServerMsg, { t: "reply" }>;
}

/** VmRSS of a process, in bytes (Linux /proc). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}
