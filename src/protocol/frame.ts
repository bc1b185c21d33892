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
export const KIND_COMPACT = 3; // body: [u8 op][fields] — protocol v3's binary form of a hot message (compact.ts)

const isKind = (k: number) => k === KIND_JSON || k === KIND_DATA || k === KIND_COMPACT;

/**
 * A decoded frame. From a decoder with `streamData`, a DATA frame comes as pieces:
 * `stream` is its stream id and `body` the next bytes of its payload.
 */
export type Frame = { readonly kind: number; readonly body: Uint8Array; readonly stream?: number };

/**
 * A frame that lies whole in a pushed chunk: the view of its body is made only when
 * asked for (a subarray costs ~45 ns, a few % of a relaying server's CPU); a compact
 * frame is decoded from `src[start, end)` in place (compact.ts).
 */
export class ChunkFrame implements Frame {
  private view: Uint8Array | undefined;
  constructor(
    readonly kind: number,
    readonly src: Uint8Array,
    readonly start: number,
    readonly end: number,
  ) {}
  get body(): Uint8Array {
    return (this.view ??= this.src.subarray(this.start, this.end));
  }
}

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
export function putU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}
export function getU32(b: Uint8Array, at: number): number {
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
 * A frame that lies whole in one pushed chunk comes out as a view of that chunk (no
 * copy). The start of a frame that is not complete yet is gathered into ONE buffer of
 * its own, which grows geometrically with what has arrived, up to the frame's size:
 * never one array per socket read (a frame sent a byte at a time used to cost ~270
 * bytes of server memory per byte), nor an allocation of whatever size the header
 * promises (a header announcing 64 KiB followed by a trickle costs what arrived).
 * Only the 4 header bytes are buffered before the length is checked, so a peer
 * announcing 4 GiB costs nothing. A completed gathered frame is handed over with
 * its buffer (the decoder keeps no reference), so a consumer may keep or transfer it.
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
  /** The start of the current incomplete frame (bytes [0, held)), or null when none is held. */
  private buf: Uint8Array | null = null;
  private held = 0;
  /** streamData: payload bytes of the current DATA frame still to come, and its stream. */
  private dataLeft = 0;
  private dataStream = 0;
  /** A boolean, not the options object: a server keeps one decoder per connection. */
  private readonly streamData: boolean;

  constructor(
    private limit: number,
    opts: { streamData?: boolean } = {},
  ) {
    this.streamData = opts.streamData === true;
  }

  /** The largest frame length accepted now. */
  get maxFrame(): number {
    return this.limit;
  }

  /**
   * Change the limit for frames whose length is not read yet (a link that starts
   * with a small limit until its peer is authenticated raises it then). A frame
   * already being gathered keeps the limit it was checked against.
   */
  setMaxFrame(n: number): void {
    this.limit = n;
  }

  /** Bytes held waiting for the rest of a frame (bounded by maxFrame + header). */
  get pendingBytes(): number {
    return this.held;
  }

  /** Bytes allocated for them (at most twice pendingBytes, at least GATHER_MIN while any are held). */
  get capacityBytes(): number {
    return this.buf?.byteLength ?? 0;
  }

  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    let at = 0;
    const end = chunk.byteLength;
    while (at < end) {
      if (this.dataLeft > 0) {
        const k = Math.min(this.dataLeft, end - at);
        this.dataLeft -= k;
        frames.push({ kind: KIND_DATA, stream: this.dataStream, body: chunk.subarray(at, at + k) });
        at += k;
        continue;
      }
      if (this.held === 0) {
        // Nothing gathered: decode straight from the chunk.
        const used = this.decodeAt(chunk, at, end - at, frames);
        if (used > 0) {
          at += used;
          continue;
        }
        this.gather(chunk, at, end - at, this.wanted(chunk.subarray(at), end - at));
        break;
      }
      // Gathering: take only the bytes the next decision needs (header, then the rest).
      const buf = this.buf!;
      const want = this.wanted(buf, this.held) - this.held;
      const k = Math.min(want, end - at);
      this.gather(chunk, at, k, want);
      at += k;
      if (k < want) break;
      const used = this.decodeAt(this.buf!, 0, this.held, frames);
      if (used > 0) {
        // What came out may be a view of buf (a whole frame): let it go with the frame.
        this.buf = null;
        this.held = 0;
      }
    }
    return frames;
  }

  /**
   * How many bytes starting the held frame must be in before something can be
   * decided: the length, then (streamData) the kind and a DATA frame's stream id, then the whole frame.
   * Throws as soon as the bytes held show the frame is bad.
   */
  private wanted(b: Uint8Array, n: number): number {
    if (n < 4) return 4;
    const len = this.checkLength(b, 0);
    if (this.streamData) {
      if (n < FRAME_HEADER) return FRAME_HEADER;
      if (this.checkStreamKind(b[4]!, len) === KIND_DATA) return FRAME_HEADER + 4;
    }
    return 4 + len;
  }

  /**
   * Decode one frame, or a DATA frame's header (streamData), from b[at, at+n).
   * Returns the bytes consumed, 0 if more are needed.
   */
  private decodeAt(b: Uint8Array, at: number, n: number, frames: Frame[]): number {
    if (n < 4) return 0;
    const len = this.checkLength(b, at);
    if (this.streamData) {
      if (n < FRAME_HEADER) return 0;
      if (this.checkStreamKind(b[at + 4]!, len) === KIND_DATA) {
        if (n < FRAME_HEADER + 4) return 0;
        this.dataStream = getU32(b, at + FRAME_HEADER);
        this.dataLeft = len - 5;
        if (this.dataLeft === 0) frames.push({ kind: KIND_DATA, stream: this.dataStream, body: new Uint8Array(0) });
        return FRAME_HEADER + 4;
      }
    }
    if (n < 4 + len) return 0;
    const kind = b[at + 4]!;
    if (!isKind(kind)) throw new FrameError("bad_kind", `unknown frame kind ${kind}`);
    frames.push(new ChunkFrame(kind, b, at + FRAME_HEADER, at + 4 + len));
    return 4 + len;
  }

  private checkLength(b: Uint8Array, at: number): number {
    const len = getU32(b, at);
    if (len < 1) throw new FrameError("bad_length", "frame length 0");
    if (len > this.limit) throw new FrameError("too_large", `frame of ${len} bytes over the limit of ${this.limit}`);
    return len;
  }

  private checkStreamKind(kind: number, len: number): number {
    if (!isKind(kind)) throw new FrameError("bad_kind", `unknown frame kind ${kind}`);
    if (kind === KIND_DATA && len < 5) throw new FrameError("bad_length", `data frame of ${len} bytes has no stream id`);
    return kind;
  }

  /**
   * Copy b[at, at+n) after the held bytes, growing the buffer geometrically but
   * never past `limit` more bytes than are held (what the frame can still use).
   */
  private gather(b: Uint8Array, at: number, n: number, limit: number): void {
    if (n === 0) return;
    const need = this.held + n;
    let buf = this.buf;
    if (buf === null || buf.byteLength < need) {
      const cap = Math.max(need, Math.min(this.held + limit, Math.max(GATHER_MIN, (buf?.byteLength ?? 0) * 2)));
      // Not zero-filled: bytes past `held` are never read before being written.
      const grown = Buffer.allocUnsafeSlow(cap);
      if (buf !== null) grown.set(buf.subarray(0, this.held), 0);
      this.buf = buf = grown;
    }
    buf.set(b.subarray(at, at + n), this.held);
    this.held = need;
  }
}

/** First size of a gathering buffer: a small frame's rest fits without growing. */
const GATHER_MIN = 256;
