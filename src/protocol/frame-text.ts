/**
 * A compact `message` whose text is left in the bytes of the frame it came in,
 * and the `msg` that relays it: a server passing a direct text from one version 3
 * client to another copies its bytes from frame to frame and never makes a string
 * of it (docs/protocol.md §8 is unchanged: these are the same messages).
 *
 * Only an all-ASCII text is kept so: such bytes are valid UTF-8 whatever they
 * are, and each is one UTF-16 unit, so the text's length is its byte count. Any
 * other text is decoded at once, as before. `text` is made on first read (the
 * rules read it to store a message for later, a JSON client gets it as a string),
 * and both are plain messages to JSON.stringify (toJSON).
 *
 * Why: in a profile of ./server relaying direct messages, slicing the text out of
 * the frame and writing it into the next one were a fifth of the JavaScript time
 * per message; the check and the copy that replace them cost about a third of that.
 * Holding the read's buffer is safe: Bun gives every socket read a buffer of its
 * own and never reuses it (the message keeps it alive while it waits, if it does).
 */
import type { ClientMsg, ServerMsg } from "./messages.ts";

/** Node's and Bun's Buffer have latin1Slice (toString("latin1") without its checks); the typings leave it out. */
type Latin1 = Buffer & { latin1Slice(start: number, end: number): string };

/** b[from, to) holds only bytes under 0x80. */
export function isAscii(b: Uint8Array, from: number, to: number): boolean {
  let any = 0;
  for (let i = from; i < to; i++) any |= b[i]!;
  return any < 0x80;
}

/** A `message` from a client whose text is the ASCII bytes src[start, end). */
export class MessageInFrame {
  readonly t = "message";
  private made: string | undefined;

  constructor(
    readonly id: number,
    readonly to: string,
    readonly src: Buffer,
    readonly start: number,
    readonly end: number,
  ) {}

  get text(): string {
    return (this.made ??= (this.src as Latin1).latin1Slice(this.start, this.end));
  }

  /** The text's length in UTF-8 bytes (and in UTF-16 units: ASCII), without making it. */
  get textBytes(): number {
    return this.end - this.start;
  }

  toJSON(): ClientMsg {
    return { t: "message", id: this.id, to: this.to, text: this.text };
  }
}

/** The direct `msg` that shows `m` to its recipient: its bytes travel along when it has them. */
export function directMsg(from: string, m: Extract<ClientMsg, { t: "message" }>): Extract<ServerMsg, { t: "msg" }> {
  if (m instanceof MessageInFrame) return new MsgFromFrame(from, m);
  return { t: "msg", from, text: m.text, kind: "direct" };
}

/** A direct `msg` whose text is still the ASCII bytes of the message that brought it. */
export class MsgFromFrame {
  readonly t = "msg";
  readonly kind = "direct";

  constructor(
    readonly from: string,
    readonly m: MessageInFrame,
  ) {}

  get text(): string {
    return this.m.text;
  }

  get textBytes(): number {
    return this.m.textBytes;
  }

  /** Copy the text's bytes into `out` at `at`; returns how many. */
  copyText(out: Uint8Array, at: number): number {
    return this.m.src.copy(out, at, this.m.start, this.m.end);
  }

  toJSON(): ServerMsg {
    return { t: "msg", from: this.from, text: this.text, kind: "direct" };
  }
}
