/**
 * Protocol version 3's compact frames (frame kind 3): the messages a relaying
 * server handles most — a direct text, its bare reply, a broadcast, a presence
 * notice — in a fixed binary layout instead of JSON (docs/protocol.md §8). Each
 * compact frame means exactly the JSON message it stands for; a link uses them
 * only once `hello` agreed on version 3, and either side may still send the JSON
 * form of any message.
 *
 * Why: in a profile of ./server relaying direct messages, JSON.stringify,
 * JSON.parse, the UTF-8 encode/decode of whole JSON texts and the copy of each
 * JSON body into its frame were over half of the CPU. Here a text is one UTF-8
 * write into the frame and one slice out of it; numbers and codes are bytes.
 *
 * Layouts (after the frame header [u32 length][u8 kind = 3]; integers big-endian,
 * strings UTF-8, a `u16 n` before a string gives its byte count; the text runs to
 * the end of the frame):
 *
 *   client → server
 *     op 1 message    [u8 1][u32 id][u16 n][to: n bytes][text]
 *     op 2 broadcast  [u8 2][u32 id][text]
 *   server → client
 *     op 1 msg        [u8 1][u8 kind: 0 direct, 1 broadcast][u16 n][from: n bytes][text]
 *     op 2 reply      [u8 2][u32 id][u8 code: index in REPLY_CODES]   (a reply with no other field)
 *     op 3 presence   [u8 3][u8 state: 0 in, 1 out][user: rest]
 *
 * Anything else (an id over 2^32 − 1, an offline `msg` with its `seq`, a reply
 * with fields) goes as JSON. Pure: no sockets.
 */
import { FRAME_HEADER, KIND_COMPACT } from "./frame.ts";
import { REPLY_CODES, type ClientMsg, type ServerMsg } from "./messages.ts";
import { MAX_FIELD_CHARS } from "./schema.ts";

/** The protocol version from which a link may carry compact frames. */
export const COMPACT_VERSION = 3;

export const OP_MESSAGE = 1;
export const OP_BROADCAST = 2;
export const OP_MSG = 1;
export const OP_REPLY = 2;
export const OP_PRESENCE = 3;

const MSG_KINDS = ["direct", "broadcast"] as const;
const STATES = ["in", "out"] as const;
const U32_MAX = 0xffff_ffff;
const U16_MAX = 0xffff;

/** The compact form of a message, or null when it has none (then it goes as JSON). */
export function encodeCompactServer(msg: ServerMsg): Uint8Array | null {
  switch (msg.t) {
    case "msg": {
      if (msg.seq !== undefined) return null;
      const k = msg.kind === "direct" ? 0 : msg.kind === "broadcast" ? 1 : -1;
      if (k < 0) return null;
      const fromN = utf8Length(msg.from);
      if (fromN > U16_MAX) return null;
      const out = frame(4 + fromN + utf8Length(msg.text), OP_MSG);
      out[6] = k;
      out[7] = fromN >>> 8;
      out[8] = fromN & 0xff;
      writeUtf8(out, msg.from, 9);
      writeUtf8(out, msg.text, 9 + fromN);
      return out;
    }
    case "reply": {
      if (!bareReply(msg) || !isU32(msg.id)) return null;
      const out = frame(6, OP_REPLY);
      putU32(out, 6, msg.id);
      out[10] = CODE_INDEX.get(msg.code)!;
      return out;
    }
    case "presence": {
      const out = frame(2 + utf8Length(msg.user), OP_PRESENCE);
      out[6] = msg.state === "in" ? 0 : 1;
      writeUtf8(out, msg.user, 7);
      return out;
    }
    default:
      return null;
  }
}

/** The compact form of a client message, or null when it has none. */
export function encodeCompactClient(msg: ClientMsg): Uint8Array | null {
  if (msg.t === "message") {
    if (!isU32(msg.id)) return null;
    const toN = utf8Length(msg.to);
    if (toN > U16_MAX) return null;
    const out = frame(7 + toN + utf8Length(msg.text), OP_MESSAGE);
    putU32(out, 6, msg.id);
    out[10] = toN >>> 8;
    out[11] = toN & 0xff;
    writeUtf8(out, msg.to, 12);
    writeUtf8(out, msg.text, 12 + toN);
    return out;
  }
  if (msg.t === "broadcast") {
    if (!isU32(msg.id)) return null;
    const out = frame(5 + utf8Length(msg.text), OP_BROADCAST);
    putU32(out, 6, msg.id);
    writeUtf8(out, msg.text, 10);
    return out;
  }
  return null;
}

/** A compact frame's body from a client: the message it stands for, or a one-line reason. */
export function decodeCompactClient(body: Uint8Array): ClientMsg | string {
  const b = asBuffer(body);
  const n = b.byteLength;
  if (n < 1) return "compact frame without an op";
  switch (b[0]) {
    case OP_MESSAGE: {
      if (n < 7) return "compact message: too short";
      const toN = (b[5]! << 8) | b[6]!;
      if (7 + toN > n) return "compact message: name runs past the frame";
      const to = text(b, 7, 7 + toN);
      const t = text(b, 7 + toN, n);
      if (to === null || t === null) return "compact message: not valid UTF-8";
      if (to.length > MAX_FIELD_CHARS || t.length > MAX_FIELD_CHARS) return "compact message: field too long";
      return { t: "message", id: getU32(b, 1), to, text: t };
    }
    case OP_BROADCAST: {
      if (n < 5) return "compact broadcast: too short";
      const t = text(b, 5, n);
      if (t === null) return "compact broadcast: not valid UTF-8";
      if (t.length > MAX_FIELD_CHARS) return "compact broadcast: field too long";
      return { t: "broadcast", id: getU32(b, 1), text: t };
    }
    default:
      return `unknown compact op ${b[0]}`;
  }
}

/** A compact frame's body from the server: the message it stands for, or a one-line reason. */
export function decodeCompactServer(body: Uint8Array): ServerMsg | string {
  const b = asBuffer(body);
  const n = b.byteLength;
  if (n < 1) return "compact frame without an op";
  switch (b[0]) {
    case OP_MSG: {
      if (n < 4) return "compact msg: too short";
      const kind = MSG_KINDS[b[1]!];
      if (kind === undefined) return `compact msg: unknown kind ${b[1]}`;
      const fromN = (b[2]! << 8) | b[3]!;
      if (4 + fromN > n) return "compact msg: name runs past the frame";
      const from = text(b, 4, 4 + fromN);
      const t = text(b, 4 + fromN, n);
      if (from === null || t === null) return "compact msg: not valid UTF-8";
      return { t: "msg", from, text: t, kind };
    }
    case OP_REPLY: {
      if (n !== 6) return "compact reply: wrong length";
      const code = REPLY_CODES[b[5]!];
      if (code === undefined) return `compact reply: unknown code ${b[5]}`;
      return { t: "reply", id: getU32(b, 1), code };
    }
    case OP_PRESENCE: {
      if (n < 2) return "compact presence: too short";
      const state = STATES[b[1]!];
      if (state === undefined) return `compact presence: unknown state ${b[1]}`;
      const user = text(b, 2, n);
      if (user === null) return "compact presence: not valid UTF-8";
      return { t: "presence", user, state };
    }
    default:
      return `unknown compact op ${b[0]}`;
  }
}

// ---- bytes ----

const CODE_INDEX = new Map<string, number>(REPLY_CODES.map((c, i) => [c, i]));

/** Fields a reply may carry besides t, id and code: a reply with any of them set goes as JSON. */
const REPLY_FIELDS = ["users", "host", "port", "token", "user", "cert", "size", "hashes", "maps", "more"] as const;

function bareReply(r: Extract<ServerMsg, { t: "reply" }>): boolean {
  for (const f of REPLY_FIELDS) if (r[f] !== undefined) return false;
  return true;
}

const isU32 = (v: number) => Number.isInteger(v) && v >= 0 && v <= U32_MAX;

/** A frame of `bodyBytes` (op included), header and op written. A Buffer: its write() encodes UTF-8 in place. */
function frame(bodyBytes: number, op: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER + bodyBytes);
  putU32(out, 0, 1 + bodyBytes);
  out[4] = KIND_COMPACT;
  out[5] = op;
  return out;
}

function putU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}
function getU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** UTF-8 byte count of a string (what Buffer.write will write; lone surrogates count as U+FFFD's 3). */
function utf8Length(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

function writeUtf8(out: Buffer, s: string, at: number): void {
  if (s.length > 0) out.write(s, at, "utf8");
}

/**
 * Frames from a socket are Buffers (views of the read); a Uint8Array from elsewhere
 * (a test) is wrapped, uncopied, for Buffer's slicing.
 */
function asBuffer(b: Uint8Array): SliceableBuffer {
  return (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)) as SliceableBuffer;
}

/** Node's and Bun's Buffer have utf8Slice (toString without its argument checks); the typings leave it out. */
type SliceableBuffer = Buffer & { utf8Slice(start: number, end: number): string };

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * b[from, to) as a string, or null when it is not valid UTF-8. utf8Slice turns bad
 * bytes into U+FFFD; only a text that shows one is decoded again strictly (a real
 * U+FFFD is valid), so the common text pays one slice.
 */
function text(b: SliceableBuffer, from: number, to: number): string | null {
  if (from === to) return "";
  const s = b.utf8Slice(from, to);
  if (!s.includes("\uFFFD")) return s;
  try {
    return strictUtf8.decode(b.subarray(from, to));
  } catch {
    return null;
  }
}
