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

export type Frame = { kind: number; body: Uint8Array };

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

export function splitDataBody(body: Uint8Array): { stream: number; payload: Uint8Array } | null {
  if (body.byteLength < 4) return null;
  const stream = getU32(body, 0);
  return { stream, payload: body.subarray(4) };
}

/**
 * Streaming decoder. Feed it whatever `data` gave; it returns the complete frames.
 * Throws FrameError on a length over `maxFrame`, a zero length or an unknown kind;
 * the caller then drops the connection (the stream cannot be resynchronised).
 */
export class FrameDecoder {
  private parts: Uint8Array[] = [];
  /** Bytes of parts[0] already consumed (so a frame costs one subarray, not three). */
  private head = 0;
  private buffered = 0;

  constructor(readonly maxFrame: number) {}

  /** Bytes held waiting for the rest of a frame (bounded by maxFrame + header). */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): Frame[] {
    if (chunk.byteLength === 0) return [];
    this.parts.push(chunk);
    this.buffered += chunk.byteLength;
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const len = this.peekLength();
      if (len < 1) throw new FrameError("bad_length", "frame length 0");
      if (len > this.maxFrame) {
        throw new FrameError("too_large", `frame of ${len} bytes over the limit of ${this.maxFrame}`);
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
    return frames;
  }

  private peekLength(): number {
    const first = this.parts[0]!;
    if (first.byteLength - this.head >= 4) {
      return getU32(first, this.head);
    }
    const head = new Uint8Array(4);
    let got = 0;
    for (let i = 0; i < this.parts.length && got < 4; i++) {
      const p = i === 0 ? first.subarray(this.head) : this.parts[i]!;
      const n = Math.min(4 - got, p.byteLength);
      head.set(p.subarray(0, n), got);
      got += n;
    }
    return getU32(head, 0);
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
