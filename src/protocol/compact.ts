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
 * strings UTF-8; a user name ends at a 0 byte (a name holding one goes as JSON),
 * the text or last name runs to the end of the frame):
 *
 *   client → server
 *     op 1 message    [u8 1][u32 id][to][u8 0][text]
 *     op 2 broadcast  [u8 2][u32 id][text]
 *   server → client
 *     op 1 msg        [u8 1][u8 kind: 0 direct, 1 broadcast][from][u8 0][text]
 *     op 2 reply      [u8 2][u32 id][u8 code: index in REPLY_CODES]   (a reply with no other field)
 *     op 3 presence   [u8 3][u8 state: 0 in, 1 out][user: rest]
 *
 * Anything else (an id over 2^32 − 1, an offline `msg` with its `seq`, a reply
 * with fields, a string with a lone UTF-16 surrogate, which UTF-8 cannot carry
 * but JSON's \uXXXX escapes can) goes as JSON. Pure: no sockets.
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

/** The compact form of a message, or null when it has none (then it goes as JSON). */
export function encodeCompactServer(msg: ServerMsg): Uint8Array | null {
  switch (msg.t) {
    case "msg": {
      if (msg.seq !== undefined || msg.from.includes("\0") || !wellFormed(msg.from, msg.text)) return null;
      const k = msg.kind === "direct" ? K_DIRECT : msg.kind === "broadcast" ? K_BROADCAST : null;
      if (k === null) return null;
      return framed(HEAD_MSG + k + msg.from + "\0" + msg.text);
    }
    case "reply": {
      const code = CODE_INDEX[msg.code];
      if (!isU32(msg.id) || code === undefined || !bareReply(msg)) return null;
      const out = new Uint8Array(FRAME_HEADER + 6);
      out[3] = 7;
      out[4] = KIND_COMPACT;
      out[5] = OP_REPLY;
      putU32(out, 6, msg.id);
      out[10] = code;
      return out;
    }
    case "presence":
      if (!msg.user.isWellFormed()) return null;
      return framed(HEAD_PRESENCE + (msg.state === "in" ? "\x00" : "\x01") + msg.user);
    default:
      return null;
  }
}

/** The compact form of a client message, or null when it has none. */
export function encodeCompactClient(msg: ClientMsg): Uint8Array | null {
  if (msg.t === "message") {
    if (!isU32(msg.id) || msg.to.includes("\0") || !wellFormed(msg.to, msg.text)) return null;
    const out = framed(HEAD_MESSAGE + LEN + msg.to + "\0" + msg.text);
    putU32(out, 6, msg.id);
    return out;
  }
  if (msg.t === "broadcast") {
    if (!isU32(msg.id) || !msg.text.isWellFormed()) return null;
    const out = framed(HEAD_BROADCAST + LEN + msg.text);
    putU32(out, 6, msg.id);
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
      if (n < 6) return "compact message: too short";
      const both = text(b, 5, n);
      if (both === null) return "compact message: not valid UTF-8";
      const cut = both.indexOf("\0");
      if (cut < 0) return "compact message: no end to the name";
      const to = both.slice(0, cut);
      const t = both.slice(cut + 1);
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
      if (n < 3) return "compact msg: too short";
      const kind = MSG_KINDS[b[1]!];
      if (kind === undefined) return `compact msg: unknown kind ${b[1]}`;
      const both = text(b, 2, n);
      if (both === null) return "compact msg: not valid UTF-8";
      const cut = both.indexOf("\0");
      if (cut < 0) return "compact msg: no end to the name";
      const from = both.slice(0, cut);
      const t = both.slice(cut + 1);
      if (from.length > MAX_FIELD_CHARS || t.length > MAX_FIELD_CHARS) return "compact msg: field too long";
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
      if (user.length > MAX_FIELD_CHARS) return "compact presence: field too long";
      return { t: "presence", user, state };
    }
    default:
      return `unknown compact op ${b[0]}`;
  }
}

// ---- bytes ----

/*
 * Encoding: the frame is written as one string of its header characters, fields
 * and texts, encoded to UTF-8 in one call; then its length bytes are filled in.
 * The header's characters are all under 0x80, so each is one byte where it was
 * put; an id is written as 4 placeholder characters and filled in after too. (Measured: a Buffer sized first and written field by field cost more than
 * JSON.stringify; one encode of a joined string costs a fraction.)
 */
const LEN = "\0\0\0\0";
const HEAD_MSG = LEN + "\x03\x01";
const HEAD_PRESENCE = LEN + "\x03\x03";
const HEAD_MESSAGE = LEN + "\x03\x01";
const HEAD_BROADCAST = LEN + "\x03\x02";
const K_DIRECT = "\x00";
const K_BROADCAST = "\x01";

const utf8 = new TextEncoder();

function framed(s: string): Uint8Array {
  const out = utf8.encode(s);
  putU32(out, 0, out.byteLength - 4);
  return out;
}

const CODE_INDEX: Record<string, number | undefined> = Object.fromEntries(REPLY_CODES.map((c, i) => [c, i]));

/** A reply with no field but t, id and code (JSON.stringify leaves undefined ones out). */
function bareReply(r: Extract<ServerMsg, { t: "reply" }>): boolean {
  return (
    r.users === undefined && r.host === undefined && r.port === undefined && r.token === undefined && r.user === undefined &&
    r.cert === undefined && r.size === undefined && r.hashes === undefined && r.maps === undefined && r.more === undefined
  );
}

/**
 * Both strings survive UTF-8: a lone surrogate would come out as U+FFFD, not the
 * message the JSON form (which escapes it) carries.
 */
const wellFormed = (a: string, b: string) => a.isWellFormed() && b.isWellFormed();

const isU32 = (v: number) => Number.isInteger(v) && v >= 0 && v <= U32_MAX;

function putU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}
function getU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
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
