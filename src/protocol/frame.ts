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

export function encodeFrame(kind: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER + body.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, 1 + body.byteLength);
  out[4] = kind;
  out.set(body, FRAME_HEADER);
  return out;
}

/** Header + stream id for a data frame, so the payload itself need not be copied. */
export function dataFrameHeader(stream: number, payloadBytes: number): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER + 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, 1 + 4 + payloadBytes);
  out[4] = KIND_DATA;
  view.setUint32(5, stream);
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
  const stream = new DataView(body.buffer, body.byteOffset, 4).getUint32(0);
  return { stream, payload: body.subarray(4) };
}

/**
 * Streaming decoder. Feed it whatever `data` gave; it returns the complete frames.
 * Throws FrameError on a length over `maxFrame`, a zero length or an unknown kind;
 * the caller then drops the connection (the stream cannot be resynchronised).
 */
export class FrameDecoder {
  private parts: Uint8Array[] = [];
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
      const whole = this.take(4 + len);
      const kind = whole[4]!;
      if (kind !== KIND_JSON && kind !== KIND_DATA) {
        throw new FrameError("bad_kind", `unknown frame kind ${kind}`);
      }
      frames.push({ kind, body: whole.subarray(FRAME_HEADER) });
    }
    return frames;
  }

  private peekLength(): number {
    const first = this.parts[0]!;
    if (first.byteLength >= 4) {
      return new DataView(first.buffer, first.byteOffset, 4).getUint32(0);
    }
    const head = new Uint8Array(4);
    let got = 0;
    for (const p of this.parts) {
      const n = Math.min(4 - got, p.byteLength);
      head.set(p.subarray(0, n), got);
      got += n;
      if (got === 4) break;
    }
    return new DataView(head.buffer).getUint32(0);
  }

  /** Remove and return the first n buffered bytes (n <= buffered). No copy when one part holds them. */
  private take(n: number): Uint8Array {
    const first = this.parts[0]!;
    if (first.byteLength >= n) {
      const out = first.subarray(0, n);
      if (first.byteLength === n) this.parts.shift();
      else this.parts[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const p = this.parts[0]!;
      const k = Math.min(n - got, p.byteLength);
      out.set(p.subarray(0, k), got);
      got += k;
      if (k === p.byteLength) this.parts.shift();
      else this.parts[0] = p.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}
