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
import { isAscii, MessageInFrame, MsgFromFrame } from "./frame-text.ts";
import { asBuffer, names, text, type SliceableBuffer } from "./frame-strings.ts";
import { ChunkFrame, FRAME_HEADER, getU32, KIND_COMPACT, KIND_JSON, putU32, type Frame } from "./frame.ts";
import { decodeClient, decodeServer, REPLY_CODES, type ClientMsg, type ServerMsg } from "./messages.ts";
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
  const max = compactServerMax(msg);
  if (max === 0) return null;
  const out = Buffer.allocUnsafe(max);
  return out.subarray(0, fillCompactServer(msg, out, 0));
}

/**
 * The most bytes the compact frame of `msg` can take (each UTF-16 unit of a string is
 * at most 3 UTF-8 bytes), or 0 when it has none: then it goes as JSON. With
 * fillCompactServer, a server writes a frame straight into a link's held bytes.
 */
export function compactServerMax(msg: ServerMsg): number {
  switch (msg.t) {
    case "msg":
      if (msg.seq !== undefined || (msg.kind !== "direct" && msg.kind !== "broadcast") || msg.from.includes("\0")) return 0;
      // A text still in its frame's bytes: ASCII, so as many bytes as it had there.
      if (msg instanceof MsgFromFrame) return msg.from.isWellFormed() ? FRAME_HEADER + 3 + 3 * msg.from.length + msg.textBytes : 0;
      if (!wellFormed(msg.from, msg.text)) return 0;
      return FRAME_HEADER + 3 + 3 * (msg.from.length + msg.text.length);
    case "reply":
      return isU32(msg.id) && CODE_INDEX[msg.code] !== undefined && bareReply(msg) ? FRAME_HEADER + 6 : 0;
    case "presence":
      return msg.user.isWellFormed() ? FRAME_HEADER + 2 + 3 * msg.user.length : 0;
    default:
      return 0;
  }
}

/** Write the compact frame of `msg` (compactServerMax > 0) into `out` at `at`; returns its length. */
export function fillCompactServer(msg: ServerMsg, out: Buffer, at: number): number {
  const b = out as SliceableBuffer;
  let end: number;
  switch (msg.t) {
    case "msg": {
      b[at + 6] = msg.kind === "direct" ? 0 : 1;
      const name = at + 7 + b.utf8Write(msg.from, at + 7);
      b[name] = 0;
      end = name + 1 + (msg instanceof MsgFromFrame ? msg.copyText(b, name + 1) : b.utf8Write(msg.text, name + 1));
      b[at + 5] = OP_MSG;
      break;
    }
    case "reply":
      putU32(b, at + 6, msg.id);
      b[at + 10] = CODE_INDEX[msg.code]!;
      end = at + 11;
      b[at + 5] = OP_REPLY;
      break;
    case "presence":
      b[at + 6] = msg.state === "in" ? 0 : 1;
      end = at + 7 + b.utf8Write(msg.user, at + 7);
      b[at + 5] = OP_PRESENCE;
      break;
    default:
      throw new Error(`no compact form for ${msg.t}`);
  }
  putU32(b, at, end - at - 4);
  b[at + 4] = KIND_COMPACT;
  return end - at;
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

/**
 * A frame from a client: its message, JSON or (once version 3 was agreed,
 * `compact`) compact, or a one-line reason. Every reader of client frames uses this.
 */
export function decodeClientFrame(f: Frame, compact: boolean): ClientMsg | string {
  if (f.kind === KIND_JSON) return decodeClient(f.body);
  if (f.kind !== KIND_COMPACT || !compact) return `unexpected frame kind ${f.kind}`;
  return f instanceof ChunkFrame ? decodeCompactClient(f.src, f.start, f.end) : decodeCompactClient(f.body);
}

/** A frame from the server: its message, JSON or (once version 3 was agreed) compact, or a one-line reason. */
export function decodeServerFrame(f: Frame, compact: boolean): ServerMsg | string {
  if (f.kind === KIND_JSON) return decodeServer(f.body);
  if (f.kind !== KIND_COMPACT || !compact) return `unexpected frame kind ${f.kind}`;
  return f instanceof ChunkFrame ? decodeCompactServer(f.src, f.start, f.end) : decodeCompactServer(f.body);
}

/** A compact frame's body, `bytes[start, end)`, from a client: the message it stands for, or a one-line reason. */
export function decodeCompactClient(bytes: Uint8Array, start = 0, end = bytes.byteLength): ClientMsg | string {
  const b = asBuffer(bytes);
  const n = end - start;
  if (n < 1) return "compact frame without an op";
  switch (b[start]) {
    case OP_MESSAGE: {
      if (n < 6) return "compact message: too short";
      // The name is sliced on its own: a flat string hashes at once for the account
      // lookup (a substring of one slice of both measured ~90 ns more per message).
      const cut = b.indexOf(0, start + 5);
      if (cut < 0 || cut >= end) return "compact message: no end to the name";
      const to = names.get(b, start + 5, cut);
      // An ASCII text stays in the frame's bytes until read (frame-text.ts): as many characters as bytes.
      const ascii = isAscii(b, cut + 1, end);
      const t = ascii ? "" : text(b, cut + 1, end);
      if (to === null || t === null) return "compact message: not valid UTF-8";
      if (to.length > MAX_FIELD_CHARS || (ascii ? end - cut - 1 : t.length) > MAX_FIELD_CHARS) return "compact message: field too long";
      if (ascii) return new MessageInFrame(getU32(b, start + 1), to, b, cut + 1, end);
      return { t: "message", id: getU32(b, start + 1), to, text: t };
    }
    case OP_BROADCAST: {
      if (n < 5) return "compact broadcast: too short";
      const t = text(b, start + 5, end);
      if (t === null) return "compact broadcast: not valid UTF-8";
      if (t.length > MAX_FIELD_CHARS) return "compact broadcast: field too long";
      return { t: "broadcast", id: getU32(b, start + 1), text: t };
    }
    default:
      return `unknown compact op ${b[start]}`;
  }
}

/** A compact frame's body, `bytes[start, end)`, from the server: the message it stands for, or a one-line reason. */
export function decodeCompactServer(bytes: Uint8Array, start = 0, end = bytes.byteLength): ServerMsg | string {
  const b = asBuffer(bytes);
  const n = end - start;
  if (n < 1) return "compact frame without an op";
  switch (b[start]) {
    case OP_MSG: {
      if (n < 3) return "compact msg: too short";
      const kind = MSG_KINDS[b[start + 1]!];
      if (kind === undefined) return `compact msg: unknown kind ${b[start + 1]}`;
      const cut = b.indexOf(0, start + 2);
      if (cut < 0 || cut >= end) return "compact msg: no end to the name";
      const from = names.get(b, start + 2, cut);
      const t = text(b, cut + 1, end);
      if (from === null || t === null) return "compact msg: not valid UTF-8";
      if (from.length > MAX_FIELD_CHARS || t.length > MAX_FIELD_CHARS) return "compact msg: field too long";
      return { t: "msg", from, text: t, kind };
    }
    case OP_REPLY: {
      if (n !== 6) return "compact reply: wrong length";
      const code = REPLY_CODES[b[start + 5]!];
      if (code === undefined) return `compact reply: unknown code ${b[start + 5]}`;
      return { t: "reply", id: getU32(b, start + 1), code };
    }
    case OP_PRESENCE: {
      if (n < 2) return "compact presence: too short";
      const state = STATES[b[start + 1]!];
      if (state === undefined) return `compact presence: unknown state ${b[start + 1]}`;
      const user = text(b, start + 2, end);
      if (user === null) return "compact presence: not valid UTF-8";
      if (user.length > MAX_FIELD_CHARS) return "compact presence: field too long";
      return { t: "presence", user, state };
    }
    default:
      return `unknown compact op ${b[start]}`;
  }
}

// ---- bytes ----

/*
 * A client's frames are written as one string of header characters, fields and
 * texts, encoded to UTF-8 in one call, then their length and id bytes are filled
 * in (the header's characters are under 0x80, one byte each where they were put).
 * A server's are written by fillCompactServer, straight into a link's held bytes.
 * (Measured: a Buffer sized first and written field by field through Buffer.write
 * cost more than JSON.stringify; one encode of a joined string a fraction, and
 * utf8Write into bytes already there less again.)
 */
const LEN = "\0\0\0\0";
const HEAD_MESSAGE = LEN + "\x03\x01";
const HEAD_BROADCAST = LEN + "\x03\x02";

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
