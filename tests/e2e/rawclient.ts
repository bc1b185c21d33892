/**
 * A raw framed TCP client for end-to-end tests that must speak the wire protocol
 * themselves (forged or replayed peer handshakes, a protocol-level login to get a
 * genuine peer token). Uses the project's own codec (src/protocol), so a frame
 * sent here is byte-for-byte what a real client would send.
 *
 * Every connection opened here is closed by `closeRawConns()` (call it from afterEach).
 */
import type { Socket } from "bun";
import { FrameDecoder, KIND_JSON } from "../../src/protocol/frame.ts";
import { APP_NAME, encodeMessage, MAX_PEER_FRAME, PROTOCOL_VERSION } from "../../src/protocol/messages.ts";
import { PASSWORDS } from "./harness.ts";

/** A decoded JSON message (not schema-checked: tests look at whatever arrives). */
export type RawMsg = { t: string; [k: string]: unknown };

const open = new Set<RawConn>();

/** Close every raw connection still open. */
export function closeRawConns(): void {
  for (const c of open) c.close();
  open.clear();
}

export class RawConn {
  private readonly decoder = new FrameDecoder(MAX_PEER_FRAME);
  private readonly inbox: RawMsg[] = [];
  private wake: (() => void) | null = null;
  private sock: Socket<undefined> | null = null;
  /** Set once the other side closed (or the socket failed). */
  closed = false;
  /** Every message received so far, in order (for error messages). */
  readonly seen: RawMsg[] = [];

  private constructor() {}

  static async connect(port: number, host = "127.0.0.1"): Promise<RawConn> {
    const c = new RawConn();
    const poke = () => {
      const w = c.wake;
      c.wake = null;
      w?.();
    };
    c.sock = await Bun.connect({
      hostname: host,
      port,
      socket: {
        data(_s, chunk) {
          try {
            for (const f of c.decoder.push(chunk)) {
              const m = f.kind === KIND_JSON ? (JSON.parse(new TextDecoder().decode(f.body)) as RawMsg) : { t: `<binary kind ${f.kind}>` };
              c.inbox.push(m);
              c.seen.push(m);
            }
          } catch (e) {
            c.inbox.push({ t: `<undecodable: ${(e as Error).message}>` });
          }
          poke();
        },
        close() {
          c.closed = true;
          poke();
        },
        end(s) {
          c.closed = true;
          s.end();
          poke();
        },
        error() {
          c.closed = true;
          poke();
        },
      },
    });
    open.add(c);
    return c;
  }

  /** Send one message as a JSON frame (the project's encoder). */
  send(msg: Record<string, unknown>): void {
    this.sendBytes(encodeMessage(msg as any));
  }

  /** Send raw bytes, whatever they are. */
  sendBytes(bytes: Uint8Array): void {
    if (!this.sock) throw new Error("not connected");
    const n = this.sock.write(bytes);
    if (n !== bytes.byteLength && !this.closed) throw new Error(`short write (${n} of ${bytes.byteLength})`);
  }

  /**
   * The next message matching `want` (by type name or predicate); messages before it are
   * consumed. Rejects if the connection closes first or `ms` passes.
   */
  async next(want: string | ((m: RawMsg) => boolean), ms = 5000): Promise<RawMsg> {
    const match = typeof want === "string" ? (m: RawMsg) => m.t === want : want;
    const deadline = Date.now() + ms;
    for (;;) {
      while (this.inbox.length) {
        const m = this.inbox.shift()!;
        if (match(m)) return m;
      }
      if (this.closed) throw new Error(`connection closed before ${want}; got: ${JSON.stringify(this.seen)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for ${want}; got: ${JSON.stringify(this.seen)}`);
      await this.sleepUntilPoked(left);
    }
  }

  /** True if the other side closes the connection within `ms`. */
  async waitClosed(ms = 5000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.sleepUntilPoked(left);
    }
    return true;
  }

  close(): void {
    open.delete(this);
    if (!this.closed) this.sock?.terminate();
    this.closed = true;
  }

  private sleepUntilPoked(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      this.wake = () => {
        clearTimeout(t);
        r();
      };
    });
  }
}

/**
 * Log `user` in to the server at `port` over the raw protocol (hello, login) and
 * return the connection, ready for requests. Throws unless the login is `ok`.
 */
export async function rawLogin(port: number, user: string, extra: Record<string, unknown> = {}): Promise<RawConn> {
  const c = await RawConn.connect(port);
  c.send({ t: "hello", v: PROTOCOL_VERSION, app: APP_NAME });
  await c.next("hello_ok");
  c.send({ t: "login", user, pass: PASSWORDS[user]!, ...extra });
  const r = await c.next("login_result");
  if (r.code !== "ok") throw new Error(`raw login of ${user}: ${r.code}`);
  return c;
}

/** Send a request with `id` on a raw server connection and wait for its reply. */
let nextId = 1000;
export async function rawRequest(c: RawConn, req: Record<string, unknown>, ms = 5000): Promise<RawMsg> {
  const id = nextId++;
  c.send({ ...req, id });
  return c.next((m) => m.t === "reply" && m.id === id, ms);
}
