/**
 * Our protocol, spoken through the project's own codec (src/protocol): the same
 * frames and JSON messages a real client sends. Used for ./server and the null relay.
 */
import { COMPACT_VERSION, decodeServerFrame, encodeCompactClient } from "../../src/protocol/compact.ts";
import { FrameDecoder, putU32 } from "../../src/protocol/frame.ts";
import { APP_NAME, encodeMessage, MAX_SERVER_FRAME, PROTOCOL_VERSION, type ClientMsg } from "../../src/protocol/messages.ts";
import type { Adapter, BenchConn, Prepared } from "./adapter.ts";
import { BenchSocket } from "./sock.ts";

const LOGIN_MS = 30_000;
/** Offline messages handled before an ack goes out mid-read, as ./client does (src/client/session.ts). */
const ACK_EVERY = 1000;

type ChatPrepared = Prepared & { frame: Uint8Array | null };

class ChatConn implements BenchConn {
  listening = false;
  onMessage: (from: string, text: string) => void = () => {};
  onClose: (reason: string) => void = () => {};
  received = 0;
  private discarding = false;
  private nextId = 1;
  /** Offline delivery (protocol v2): highest seq handled, highest acknowledged. */
  private shownSeq = 0;
  private ackedSeq = 0;
  private settled: { id: number; done: () => void } | null = null;
  private readonly decoder = new FrameDecoder(MAX_SERVER_FRAME);
  /** The server agreed on version 3 (compact frames), as ./client uses them. */
  private compact = false;
  loginWait: ((code: string) => void) | null = null;
  sock!: BenchSocket;

  constructor(readonly user: string) {}

  onData(chunk: Uint8Array): void {
    if (this.discarding) {
      this.received++;
      return;
    }
    let frames;
    try {
      frames = this.decoder.push(chunk);
    } catch (e) {
      this.sock.close();
      this.onClose(`bad frame from server: ${(e as Error).message}`);
      return;
    }
    for (const f of frames) {
      this.received++;
      if (!this.listening && !this.loginWait) continue;
      const m = decodeServerFrame(f, this.compact);
      if (typeof m === "string") throw new Error(`undecodable message from server: ${m}`);
      if (m.t === "msg") {
        if (this.listening) this.onMessage(m.from, m.text);
        if (m.seq !== undefined && m.seq > this.shownSeq) {
          this.shownSeq = m.seq;
          if (this.shownSeq - this.ackedSeq >= ACK_EVERY) this.ack();
        }
      } else if (m.t === "reply" && m.id === this.settled?.id) {
        this.settled.done();
      } else if (m.t === "hello_ok") {
        this.compact = m.v >= COMPACT_VERSION;
      } else if (m.t === "login_result") {
        const w = this.loginWait;
        this.loginWait = null;
        w?.(m.code);
      } else if (m.t === "error" || m.t === "kicked") {
        const w = this.loginWait;
        this.loginWait = null;
        w?.(`${m.t}: ${JSON.stringify(m)}`);
      }
    }
    // Everything that arrived together is handled: acknowledge it (the server deletes only what is acked).
    if (this.shownSeq > this.ackedSeq) this.ack();
  }

  private ack(): void {
    this.ackedSeq = this.shownSeq;
    this.write({ t: "ack", upTo: this.shownSeq });
  }

  login(pass: string): Promise<string> {
    return new Promise((resolve) => {
      this.loginWait = resolve;
      this.write({ t: "hello", v: PROTOCOL_VERSION, app: APP_NAME });
      this.write({ t: "login", user: this.user, pass });
    });
  }

  send(to: string, text: string): void {
    this.write({ t: "message", id: this.nextId++, to, text });
  }
  /** The compact frame with id 0 (version 3 agreed), its id filled in per send; JSON ones are encoded each time. */
  prepare(to: string, text: string): Prepared {
    const frame = this.compact ? encodeCompactClient({ t: "message", id: 0, to, text }) : null;
    return { to, text, frame } as ChatPrepared;
  }
  sendPrepared(p: Prepared): void {
    const { frame } = p as ChatPrepared;
    if (!frame) return this.send(p.to, p.text);
    const at = this.sock.write(frame);
    // [u32 length][u8 kind][u8 op][u32 id]: the id is bytes 6–9 (docs/protocol.md §8).
    if (at >= 0) putU32(this.sock.heldBytesView(), at + 6, this.nextId++);
  }
  broadcast(text: string): void {
    this.write({ t: "broadcast", id: this.nextId++, text });
  }
  async joinBroadcast(): Promise<void> {}
  discard(): void {
    this.discarding = true;
    this.listening = false;
  }
  /** Requests are answered in order: once a whoelse sent after the acks is answered, the acks are done. */
  settle(): Promise<void> {
    return new Promise((done) => {
      this.settled = { id: this.nextId, done };
      this.write({ t: "whoelse", id: this.nextId++ });
    });
  }
  close(): void {
    this.sock.close();
  }

  /** Compact once the server agreed on version 3, like ./client (src/client/session.ts). */
  private write(m: ClientMsg): void {
    this.sock.write((this.compact && encodeCompactClient(m)) || encodeMessage(m));
  }
}

export const chatAdapter: Adapter = {
  name: "chat",
  async login(port, user, pass, onMessage, tls = false) {
    const c = new ChatConn(user);
    if (onMessage) {
      c.listening = true;
      c.onMessage = onMessage;
    }
    let closedWhy: string | null = null;
    c.sock = await BenchSocket.connect(port, {
      data: (chunk) => c.onData(chunk),
      close: (why) => {
        closedWhy = why;
        c.onClose(why);
        // A login still waiting learns why.
        c.loginWait?.(`closed: ${why}`);
      },
    }, "127.0.0.1", tls);
    let timer: Timer | undefined;
    const code = await Promise.race([
      c.login(pass),
      new Promise<string>((r) => (timer = setTimeout(() => r("login timed out"), LOGIN_MS))),
    ]);
    clearTimeout(timer);
    if (code !== "ok") {
      c.close();
      throw new Error(`login ${user}: ${code}${closedWhy ? ` (${closedWhy})` : ""}`);
    }
    return c;
  },
};
