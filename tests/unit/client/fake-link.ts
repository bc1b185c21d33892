/**
 * An in-memory stand-in for a Link, for the client's unit tests: it records what is
 * sent (JSON frames decoded) and lets the test deliver frames and close it.
 */
import { FRAME_HEADER, KIND_JSON, type Frame } from "../../../src/protocol/frame.ts";
import type { LinkEvents } from "../../../src/net/link.ts";
import type { Clock } from "../../../src/common/clock.ts";
import { ServerSession } from "../../../src/client/session.ts";

/** The certificate fingerprint a FakeLink's far end presented, unless a test sets another. */
export const FAKE_CERT = "SHA256:" + "F".repeat(43);

export class FakeLink {
  /** What the far end presented in the (imagined) TLS handshake. */
  peerFingerprint: string | null = FAKE_CERT;
  /** JSON messages sent on the link, in order. */
  readonly sent: Record<string, unknown>[] = [];
  /** Set once destroy() was called, with its reason. */
  destroyed: string | null = null;
  ended = false;
  paused = false;
  /** Called with each JSON message sent (after it is recorded): a fake other side answers here. */
  onSend: ((msg: Record<string, unknown>) => void) | null = null;
  private events: LinkEvents | null = null;
  private gone = false;

  constructor(events?: LinkEvents) {
    if (events) this.events = events;
  }

  readonly remoteAddress = "127.0.0.1";
  readonly sentBytes = 0;
  readonly queuedBytes = 0;
  get isOpen(): boolean {
    return !this.gone && !this.ended;
  }
  get isClosed(): boolean {
    return this.gone;
  }

  /** The frame limit last set with setMaxFrame (null: never set). */
  maxFrame: number | null = null;
  setMaxFrame(n: number): void {
    this.maxFrame = n;
  }

  attach(events: LinkEvents): void {
    this.events = events;
  }

  send(bytes: Uint8Array): boolean {
    if (bytes[4] !== KIND_JSON) return true;
    const msg = JSON.parse(new TextDecoder().decode(bytes.subarray(FRAME_HEADER))) as Record<string, unknown>;
    this.sent.push(msg);
    this.onSend?.(msg);
    return true;
  }

  end(): void {
    this.ended = true;
    this.close("ended");
  }

  destroy(reason = "closed"): void {
    this.destroyed = reason;
    this.close(reason);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  drained(): Promise<void> {
    return Promise.resolve();
  }

  /** The other side sends one message. */
  deliver(msg: Record<string, unknown>): void {
    this.deliverFrame({ kind: KIND_JSON, body: new TextEncoder().encode(JSON.stringify(msg)) });
  }

  deliverFrame(f: Frame): void {
    if (this.gone) throw new Error("frame on a closed fake link");
    this.events!.frame(f);
  }

  /** The link goes away (the other side closed, or the network broke). */
  close(reason: string): void {
    if (this.gone) return;
    this.gone = true;
    this.events?.close(reason);
  }

  /** Types of the messages sent so far. */
  get sentTypes(): unknown[] {
    return this.sent.map((m) => m.t);
  }
}

/** Let pending promise callbacks run (a bounded number of event-loop turns). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await Bun.sleep(0);
}

/** Wait (a bounded number of turns) until `cond` holds; throws if it never does. */
export async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await Bun.sleep(1);
  }
  throw new Error(`never happened: ${what}`);
}

/**
 * A ServerSession over a fake link whose server says hello_ok and answers each
 * request with `answer(request)` (fields of the reply; null: no answer).
 */
export async function fakeServer(
  clock: Clock,
  answer: (req: Record<string, unknown>) => Record<string, unknown> | null = () => null,
): Promise<{ session: ServerSession; link: FakeLink }> {
  let link: FakeLink | null = null;
  const opening = ServerSession.open(async (events) => {
    const l = new FakeLink(events);
    l.onSend = (m) => {
      if (m.t === "hello") queueMicrotask(() => l.deliver({ t: "hello_ok", v: 1, maxFrame: 65536 }));
      else if (typeof m.id === "number") {
        const r = answer(m);
        if (r) queueMicrotask(() => l.deliver({ t: "reply", id: m.id, ...r }));
      }
    };
    link = l;
    return l;
  }, clock);
  const session = await opening;
  return { session, link: link! };
}
