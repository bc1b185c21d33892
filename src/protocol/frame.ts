/**
 * The framing layer: TCP delivers bytes, this turns them into frames and back.
 *
 * Frame = [u32 big-endian length of (kind + body)][u8 kind][body]
 * The length is checked against the limit as soon as its 4 bytes are in,
 * before any body byte is buffered, so a peer announcing 4 GiB costs nothing.
 * Pure: no sockets here.
 */

export const FRAME_HEADER = 5;

/** Frame kinds. */
export const KIND_JSON = 1; // body: UTF-8 JSON of one message (messages.ts)
export const KIND_DATA = 2; // body: [u32 BE stream id][raw bytes]  (chunk payloads, no base64)

/**
 * A decoded frame. From a decoder with `streamData`, a DATA frame comes as pieces:
 * `stream` is its stream id and `body` the next bytes of its payload.
 */
export type Frame = { kind: number; body: Uint8Array; stream?: number };

export class FrameError extends Error {
  constructor(
    readonly code: "too_large" | "bad_length" | "bad_kind",
    message: string,
  ) {
    super(message);
  }
}

// Lengths are read and written byte by byte: a DataView needs `.buffer`, which
// makes the engine give a small typed array its own ArrayBuffer (measured: most
// of encodeFrame's time, and the top item of a relaying server's profile).
function putU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}
function getU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

export function encodeFrame(kind: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER + body.byteLength);
  putU32(out, 0, 1 + body.byteLength);
  out[4] = kind;
  out.set(body, FRAME_HEADER);
  return out;
}

/** Header + stream id for a data frame, so the payload itself need not be copied. */
export function dataFrameHeader(stream: number, payloadBytes: number): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER + 4);
  putU32(out, 0, 1 + 4 + payloadBytes);
  out[4] = KIND_DATA;
  putU32(out, 5, stream);
  return out;
}

export function encodeDataFrame(stream: number, payload: Uint8Array): Uint8Array {
  const head = dataFrameHeader(stream, payload.byteLength);
  const out = new Uint8Array(head.byteLength + payload.byteLength);
  out.set(head, 0);
  out.set(payload, head.byteLength);
  return out;
}

/**
 * Streaming decoder. Feed it whatever `data` gave; it returns the complete frames.
 * Throws FrameError on a length over `maxFrame`, a zero length or an unknown kind;
 * the caller then drops the connection (the stream cannot be resynchronised).
 *
 * With `streamData`, a DATA frame is not gathered: once its 9 header bytes are in,
 * its payload comes out as it arrives, as one or more frames
 * `{ kind: KIND_DATA, stream, body: <next bytes of the payload> }` — views into the
 * pushed bytes, never copied (a 1 MiB chunk piece arriving in two socket reads used
 * to be copied into one buffer; that copy was the largest cost of a download). A
 * DATA frame too short to hold its stream id is then a `bad_length` error, and the
 * kind is checked as soon as its byte is in.
 *
 * push() keeps no reference to the bytes given to it once it returns: bytes of an
 * incomplete frame are copied. So a caller may hand the pushed buffer on (e.g.
 * transfer it to a worker) after it has dealt with the frames.
 */
export class FrameDecoder {
  private parts: Uint8Array[] = [];
  /** Bytes of parts[0] already consumed (so a frame costs one subarray, not three). */
  private head = 0;
  private buffered = 0;
  /** streamData: payload bytes of the current DATA frame still to come, and its stream. */
  private dataLeft = 0;
  private dataStream = 0;

  constructor(
    readonly maxFrame: number,
    readonly opts: { streamData?: boolean } = {},
  ) {}

  /** Bytes held waiting for the rest of a frame (bounded by maxFrame + header). */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): Frame[] {
    if (chunk.byteLength === 0) return [];
    this.parts.push(chunk);
    this.buffered += chunk.byteLength;
    const frames: Frame[] = [];
    const streaming = this.opts.streamData === true;
    for (;;) {
      if (this.dataLeft > 0) {
        if (this.buffered === 0) break;
        const piece = this.takeView(this.dataLeft);
        this.dataLeft -= piece.byteLength;
        frames.push({ kind: KIND_DATA, stream: this.dataStream, body: piece });
        continue;
      }
      if (this.buffered < 4) break;
      const len = this.peekLength();
      if (len < 1) throw new FrameError("bad_length", "frame length 0");
      if (len > this.maxFrame) {
        throw new FrameError("too_large", `frame of ${len} bytes over the limit of ${this.maxFrame}`);
      }
      if (streaming) {
        if (this.buffered < FRAME_HEADER) break;
        const kind = this.peekByte(4);
        if (kind !== KIND_JSON && kind !== KIND_DATA) throw new FrameError("bad_kind", `unknown frame kind ${kind}`);
        if (kind === KIND_DATA) {
          if (len < 5) throw new FrameError("bad_length", `data frame of ${len} bytes has no stream id`);
          if (this.buffered < FRAME_HEADER + 4) break;
          const head = this.take(FRAME_HEADER + 4);
          this.dataStream = getU32(head, FRAME_HEADER);
          this.dataLeft = len - 5;
          if (this.dataLeft === 0) frames.push({ kind: KIND_DATA, stream: this.dataStream, body: new Uint8Array(0) });
          continue;
        }
      }
      if (this.buffered < 4 + len) break;
      const first = this.parts[0]!;
      let kind: number;
      let body: Uint8Array;
      if (first.byteLength - this.head >= 4 + len) {
        // The common case: the whole frame lies in one chunk. No copy.
        kind = first[this.head + 4]!;
        body = first.subarray(this.head + FRAME_HEADER, this.head + 4 + len);
        this.head += 4 + len;
        this.buffered -= 4 + len;
        if (this.head === first.byteLength) {
          this.parts.shift();
          this.head = 0;
        }
      } else {
        const whole = this.take(4 + len);
        kind = whole[4]!;
        body = whole.subarray(FRAME_HEADER);
      }
      if (kind !== KIND_JSON && kind !== KIND_DATA) {
        throw new FrameError("bad_kind", `unknown frame kind ${kind}`);
      }
      frames.push({ kind, body });
    }
    // Keep no view of `chunk`: what is left of it (part of a frame) is copied.
    const last = this.parts.length - 1;
    if (last >= 0 && this.parts[last] === chunk) {
      const from = last === 0 ? this.head : 0;
      this.parts[last] = chunk.slice(from);
      if (last === 0) this.head = 0;
    }
    return frames;
  }

  private peekLength(): number {
    const first = this.parts[0]!;
    if (first.byteLength - this.head >= 4) {
      return getU32(first, this.head);
    }
    const head = new Uint8Array(4);
    for (let i = 0; i < 4; i++) head[i] = this.peekByte(i);
    return getU32(head, 0);
  }

  /** The buffered byte at offset i (i < buffered). */
  private peekByte(i: number): number {
    let at = this.head + i;
    for (const p of this.parts) {
      if (at < p.byteLength) return p[at]!;
      at -= p.byteLength;
    }
    return 0;
  }

  /** Remove and return up to n buffered bytes (buffered > 0) as a view of the first part: no copy. */
  private takeView(n: number): Uint8Array {
    const p = this.parts[0]!;
    const k = Math.min(n, p.byteLength - this.head);
    const out = p.subarray(this.head, this.head + k);
    this.buffered -= k;
    if (this.head + k === p.byteLength) {
      this.parts.shift();
      this.head = 0;
    } else {
      this.head += k;
    }
    return out;
  }

  /** Remove and return the first n buffered bytes (n <= buffered), copied into one array. */
  private take(n: number): Uint8Array {
    // Not zero-filled: every byte is overwritten below (a frame's own buffer, so a consumer may keep or transfer it).
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const p = this.parts[0]!;
      const avail = p.byteLength - this.head;
      const k = Math.min(n - got, avail);
      out.set(p.subarray(this.head, this.head + k), got);
      got += k;
      if (k === avail) {
        this.parts.shift();
        this.head = 0;
      } else {
        this.head += k;
      }
    }
    this.buffered -= n;
    return out;
  }
}
