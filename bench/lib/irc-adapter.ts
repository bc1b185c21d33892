/**
 * IRC (RFC 2812), enough for the scenarios: register with NICK/USER (logged in =
 * numeric 001), PRIVMSG to a nick for direct messages, one channel (#bench) for
 * broadcasts, PONG to PING. IRC servers have no accounts here, so the password
 * is not used. Used for the ngIRCd and InspIRCd baselines, in plain TCP or over
 * TLS to the daemons' TLS ports (`tls`: the bench's self-signed certificate,
 * not checked, as for our server).
 */
import type { Adapter, BenchConn, Prepared } from "./adapter.ts";
import { BenchSocket } from "./sock.ts";

const LOGIN_MS = 30_000;
export const BENCH_CHANNEL = "#bench";
const enc = new TextEncoder();

type IrcPrepared = Prepared & { line: Uint8Array };

/** The line that sends `text` to a user or a channel. */
const privmsg = (to: string, text: string): Uint8Array => enc.encode(`PRIVMSG ${to} :${text}\r\n`);

class IrcConn implements BenchConn {
  listening = false;
  onMessage: (from: string, text: string) => void = () => {};
  onClose: (reason: string) => void = () => {};
  received = 0;
  private discarding = false;
  private partial = "";
  private readonly dec = new TextDecoder();
  /** Waiting for a numeric (001 after registration, 366 after JOIN). */
  wait: { numeric: string; resolve: (err: string | null) => void } | null = null;
  sock!: BenchSocket;

  constructor(readonly user: string) {}

  onData(chunk: Uint8Array): void {
    if (this.discarding) {
      // (PINGs go unanswered: the bench configures servers to ping once an hour.)
      this.received++;
      return;
    }
    const text = this.partial + this.dec.decode(chunk, { stream: true });
    let start = 0;
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl < 0) break;
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      this.line(text.slice(start, end));
      start = nl + 1;
    }
    this.partial = text.slice(start);
  }

  private line(l: string): void {
    this.received++;
    if (l.startsWith("PING")) {
      this.sock.write(enc.encode(`PONG${l.slice(4)}\r\n`));
      return;
    }
    if (l.startsWith("ERROR")) return this.finishWait(l);
    if (l.charCodeAt(0) !== 58 /* : */) return;
    const sp1 = l.indexOf(" ");
    const sp2 = l.indexOf(" ", sp1 + 1);
    const cmd = l.slice(sp1 + 1, sp2 < 0 ? undefined : sp2);
    if (cmd === "PRIVMSG") {
      if (!this.listening) return;
      const bang = l.indexOf("!");
      const from = l.slice(1, bang > 0 && bang < sp1 ? bang : sp1);
      const colon = l.indexOf(" :", sp2 + 1);
      this.onMessage(from, colon < 0 ? "" : l.slice(colon + 2));
      return;
    }
    if (this.wait) {
      if (cmd === this.wait.numeric) this.finishWait(null);
      // Nick in use, erroneous nick, too many channels / connections, banned.
      else if (["432", "433", "436", "405", "465", "471", "473", "474"].includes(cmd)) this.finishWait(l);
    }
  }

  finishWait(err: string | null): void {
    const w = this.wait;
    this.wait = null;
    w?.resolve(err);
  }

  private until(numeric: string, lines: string): Promise<string | null> {
    return new Promise((resolve) => {
      this.wait = { numeric, resolve };
      this.sock.write(enc.encode(lines));
    });
  }

  register(): Promise<string | null> {
    return this.until("001", `NICK ${this.user}\r\nUSER ${this.user} 0 * :bench\r\n`);
  }
  async joinBroadcast(): Promise<void> {
    const err = await this.until("366", `JOIN ${BENCH_CHANNEL}\r\n`);
    if (err) throw new Error(`${this.user}: JOIN failed: ${err}`);
  }
  discard(): void {
    this.discarding = true;
    this.listening = false;
  }
  send(to: string, text: string): void {
    this.sock.write(privmsg(to, text));
  }
  prepare(to: string, text: string): Prepared {
    return { to, text, line: privmsg(to, text) } as IrcPrepared;
  }
  sendPrepared(p: Prepared): void {
    this.sock.write((p as IrcPrepared).line);
  }
  broadcast(text: string): void {
    this.sock.write(privmsg(BENCH_CHANNEL, text));
  }
  close(): void {
    this.sock.close();
  }
}

export const ircAdapter: Adapter = {
  name: "irc",
  async login(port, user, _pass, onMessage, tls = false) {
    const c = new IrcConn(user);
    if (onMessage) {
      c.listening = true;
      c.onMessage = onMessage;
    }
    c.sock = await BenchSocket.connect(port, {
      data: (chunk) => c.onData(chunk),
      close: (why) => {
        c.onClose(why);
        c.finishWait(`closed: ${why}`);
      },
    }, "127.0.0.1", tls);
    let timer: Timer | undefined;
    const err = await Promise.race([
      c.register(),
      new Promise<string>((r) => (timer = setTimeout(() => r("registration timed out"), LOGIN_MS))),
    ]);
    clearTimeout(timer);
    if (err !== null) {
      c.close();
      throw new Error(`login ${user}: ${err}`);
    }
    return c;
  },
};
