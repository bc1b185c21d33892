/**
 * Every message of the protocol, per link direction. docs/protocol.md describes
 * the same list for humans; keep the two in step.
 */
import { encodeFrame, KIND_JSON } from "./frame.ts";
import { validate, type FieldSpec, type Fields, type Flatten, type MessageOf, type Schema } from "./schema.ts";

/**
 * The version this build speaks to the server (in `hello`). Version 2 added
 * acknowledged offline delivery (`msg.seq`, `ack`), version 3 compact frames for
 * the hot messages (compact.ts); a server still accepts a version 1 or 2 `hello`
 * (see SUPPORTED_VERSIONS and docs/protocol.md §7).
 */
export const PROTOCOL_VERSION = 3;
/** Versions a server accepts in `hello`. Version 3 added compact frames (compact.ts). */
export const SUPPORTED_VERSIONS: readonly number[] = [1, 2, 3];
/**
 * The version a client sends in `peer_hello`: peer links did not change in
 * version 2, so a caller still says 1 (older clients accept only that) and a
 * callee accepts any of SUPPORTED_VERSIONS.
 */
export const PEER_PROTOCOL_VERSION = 1;
export const APP_NAME = "termchat";

/** Largest frame on the client↔server link (a 4096-byte text JSON-escaped fits easily). */
export const MAX_SERVER_FRAME = 64 * 1024;
/** Largest frame on a peer link (chunk data travels in pieces of at most DATA_PIECE). */
export const MAX_PEER_FRAME = 1024 * 1024 + 64;
/**
 * Size of one binary piece of a chunk on a peer link: the most a DATA frame can carry
 * (1 + 4 + DATA_PIECE <= MAX_PEER_FRAME). Big pieces mean fewer reads, writes, frames
 * and hand-overs per GiB (bench/README-transfer.md); receivers accept any size up to it.
 */
export const DATA_PIECE = 1024 * 1024;
/** Longest message text, in UTF-8 bytes (behaviour.md §4). */
export const MAX_TEXT_BYTES = 4096;

/** `busy`: the server cannot decide now (a cluster's shared state is unreachable); try again later. */
export const LOGIN_CODES = ["ok", "unknown_user", "bad_password", "locked_now", "blocked", "already_online", "busy"] as const;

/** Codes of `reply` (see docs/protocol.md for which request yields which). */
export const REPLY_CODES = [
  "ok", // request done, nothing to report (message delivered, broadcast sent to all, ...)
  "stored", // message: recipient offline, stored on disk
  "blocked_you", // message/peer_request: the recipient has blocked the sender
  "partial", // broadcast: some recipients skipped because they blocked the sender
  "invalid_user",
  "self",
  "already", // block: already blocked
  "not_blocked", // unblock: was not blocked
  "too_long",
  "bad_args",
  "offline", // peer_request: user not online
  "users", // whoelse/whoelsesince: list in `users`
  "peer", // peer_request: address in host/port, one-time token in token
  "token_ok", // peer_check: the token was issued to `user` for this callee
  "token_bad", // peer_check: unknown, used or expired token
  "bye", // logout acknowledged; the server closes the link after this
  "mailbox_full", // message: recipient offline and their mailbox is at its limit
  "file_new", // file_register: registered; the sender holds the chunks it announced
  "file_same", // file_register: same name and content already registered; sender's chunks added
  "file_conflict", // file_register: another file has this name (its size and hashes in the reply)
  "file", // file_search: size, hashes, holders in users/maps
  "not_found", // file_search/file_have: no online user holds a file of that name
  "registry_full", // file_register/file_have: the server holds as many files as it may
  "storage_failure", // message/block/unblock: the server's store failed (disk full, read-only); nothing changed
  "busy", // any request but logout: a cluster's shared state (Redis) is unreachable now; try again later
] as const;
export type ReplyCode = (typeof REPLY_CODES)[number];

/** Client → server. Requests carry an `id` the reply echoes. */
export const C2S = {
  hello: { v: "int", app: "str" },
  // peerCert: the fingerprint of the certificate the client's peer listener presents (mutual TLS on peer links)
  login: { user: "str", pass: "str", peerPort: "int?", peerCert: "str?" },
  message: { id: "int", to: "str", text: "str" },
  broadcast: { id: "int", text: "str" },
  whoelse: { id: "int" },
  whoelsesince: { id: "int", seconds: "int" },
  block: { id: "int", user: "str" },
  unblock: { id: "int", user: "str" },
  logout: { id: "int" },
  activity: {},
  // offline messages with seq <= upTo have been shown (v2; cumulative, no reply)
  ack: { upTo: "int" },
  peer_request: { id: "int", user: "str" },
  peer_check: { id: "int", user: "str", token: "str" },
  // file sharing (behaviour.md §6): hashes are lower-case hex SHA-256, one per chunk; chunks are 1-based
  file_register: { id: "int", name: "str", size: "int", hashes: "strs", have: "ints?" },
  file_have: { id: "int", name: "str", chunks: "ints" },
  file_search: { id: "int", name: "str" },
} as const satisfies Schema;

/** Server → client. */
export const S2C = {
  hello_ok: { v: "int", maxFrame: "int" },
  login_result: { code: LOGIN_CODES, user: "str" },
  reply: {
    id: "int", code: REPLY_CODES, users: "strs?", host: "str?", port: "int?", token: "str?", user: "str?",
    cert: "str?", // peer_request / peer_check: the other client's peer certificate fingerprint, as it gave it at login
    size: "int?", hashes: "strs?", maps: "strs?", // file_search / file_conflict
    more: "bool?", // a listing too long for one frame: more parts with this id follow (listing.ts)
  },
  msg: { from: "str", text: "str", kind: ["direct", "broadcast", "offline"], seq: "int?" }, // seq: offline, v2
  presence: { user: "str", state: ["in", "out"] },
  kicked: { reason: ["timeout"] },
  error: { code: "str", detail: "str?" },
} as const satisfies Schema;

/** Peer ↔ peer (either direction after the handshake, except where noted). */
export const P2P = {
  peer_hello: { v: "int", from: "str", token: "str" }, // caller → callee, first frame
  peer_welcome: { user: "str" }, // callee → caller: token accepted
  peer_reject: { reason: "str" }, // callee → caller, then close
  pm: { text: "str" },
  pm_stop: {},
  // chunk transfer (behaviour.md §6): the requester picks `req`, the holder's DATA frames carry it as stream id
  chunk_get: { req: "int", name: "str", chunk: "int" }, // requester → holder
  chunk_ok: { req: "int", size: "int" }, // holder → requester: `size` bytes follow in DATA frames
  chunk_none: { req: "int", reason: ["not_held", "bad_name", "busy", "error"] }, // holder → requester: no (more) data
  chunk_cancel: { req: "int" }, // requester → holder: stop sending
} as const satisfies Schema;

export type ClientMsg = MessageOf<typeof C2S>;
export type ServerMsg = MessageOf<typeof S2C>;
export type PeerMsg = MessageOf<typeof P2P>;

/** Requests: the client messages the server answers with a `reply` of the same id. */
export type RequestType = Extract<ClientMsg, { id: number }>["t"];

/**
 * Per request type, the reply codes it may get and the fields each code carries
 * (docs/protocol.md §4). On the wire every reply is S2C.reply; the client checks a
 * reply against its request's row, so what it reads is typed by what it asked.
 * Fields a code does not list may be present and are ignored.
 */
/*
 * Not in any row: `busy` (REPLY_CODES), which may answer any request but logout
 * when a cluster's shared state is unreachable; a client shows it as such.
 */
export const REPLIES = {
  message: { ok: {}, stored: {}, blocked_you: {}, invalid_user: {}, self: {}, too_long: {}, mailbox_full: {}, storage_failure: {} },
  broadcast: { ok: {}, partial: {}, too_long: {} },
  whoelse: { users: { users: "strs" } },
  whoelsesince: { users: { users: "strs" } },
  block: { ok: {}, self: {}, invalid_user: {}, already: {}, storage_failure: {} },
  unblock: { ok: {}, self: {}, invalid_user: {}, not_blocked: {}, storage_failure: {} },
  peer_request: { peer: { host: "str", port: "int", token: "str", cert: "str?" }, invalid_user: {}, self: {}, offline: {}, blocked_you: {} },
  peer_check: { token_ok: { cert: "str?" }, token_bad: {} },
  logout: { bye: {} },
  file_register: { file_new: {}, file_same: {}, file_conflict: { size: "int", hashes: "strs" }, bad_args: {}, registry_full: {} },
  file_have: { ok: {}, not_found: {}, bad_args: {}, registry_full: {} },
  file_search: { file: { size: "int", hashes: "strs", users: "strs", maps: "strs" }, not_found: {} },
} as const satisfies { [R in RequestType]: { [C in ReplyCode]?: Record<string, FieldSpec> } };

/** The reply to a request of type R: one variant per code it may get, with that code's fields. */
export type ReplyTo<R extends RequestType> = {
  [C in keyof (typeof REPLIES)[R]]: Flatten<{ t: "reply"; id: number; code: C } & Fields<(typeof REPLIES)[R][C]>>;
}[keyof (typeof REPLIES)[R]];

/** A reply that does not fit its request's row: its code, and what was wrong. */
export type UnfitReply = { t: "reply"; id: number; code: "unexpected"; got: string; why: string };

/** Check a reply against the row of the request it answers. */
export function fitReply<R extends RequestType>(request: R, reply: Extract<ServerMsg, { t: "reply" }>): ReplyTo<R> | UnfitReply {
  const row: Schema = REPLIES[request];
  const why = validate(row, { ...reply, t: reply.code });
  if (typeof why === "string") return { t: "reply", id: reply.id, code: "unexpected", got: reply.code, why: `${request}: ${why}` };
  return reply as ReplyTo<R>;
}

const utf8 = new TextEncoder();
const utf8dec = new TextDecoder("utf-8", { fatal: true });

export function encodeMessage(msg: ClientMsg | ServerMsg | PeerMsg): Uint8Array {
  return encodeFrame(KIND_JSON, utf8.encode(JSON.stringify(msg)));
}

/** Decode a JSON frame body against one direction's schema: the message, or a one-line reason. */
export function decodeMessage<S extends Schema>(schema: S, body: Uint8Array): MessageOf<S> | string {
  let value: unknown;
  try {
    value = JSON.parse(utf8dec.decode(body));
  } catch {
    return "frame body is not valid UTF-8 JSON";
  }
  return validate(schema, value);
}

/** A client message, checked beyond its field types where a range matters. */
export function decodeClient(b: Uint8Array): ClientMsg | string {
  const m = decodeMessage(C2S, b);
  // A TCP port: 0 or 70 000 is no address anyone could call (and peers would be told it).
  if (typeof m !== "string" && m.t === "login" && m.peerPort !== undefined && (m.peerPort < 1 || m.peerPort > 65535)) {
    return "login.peerPort: expected a TCP port from 1 to 65535";
  }
  // A fingerprint as net/fingerprint.ts writes it: the server hands it on to other clients as it is.
  if (typeof m !== "string" && m.t === "login" && m.peerCert !== undefined && !/^SHA256:[A-Za-z0-9+/]{43}$/.test(m.peerCert)) {
    return "login.peerCert: expected SHA256: and 43 base64 characters";
  }
  return m;
}
export const decodeServer = (b: Uint8Array) => decodeMessage(S2C, b);
export const decodePeer = (b: Uint8Array) => decodeMessage(P2P, b);

export function textBytes(s: string): number {
  return utf8.encode(s).byteLength;
}
