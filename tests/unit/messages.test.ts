import { describe, expect, test } from "bun:test";
import { FrameDecoder, KIND_JSON } from "../../src/protocol/frame.ts";
import {
  C2S,
  decodeClient,
  decodeMessage,
  decodePeer,
  decodeServer,
  encodeMessage,
  LOGIN_CODES,
  MAX_SERVER_FRAME,
  MAX_TEXT_BYTES,
  P2P,
  REPLY_CODES,
  S2C,
  textBytes,
  type ClientMsg,
  type PeerMsg,
  type ServerMsg,
} from "../../src/protocol/messages.ts";
import { MAX_FIELD_CHARS, MAX_LIST, validate } from "../../src/protocol/schema.ts";

const utf8 = new TextEncoder();
const body = (json: string) => utf8.encode(json);
const obj = (v: unknown) => utf8.encode(JSON.stringify(v));

/** Encode a message, run it through the frame decoder, and return the single JSON body. */
function wire(msg: ClientMsg | ServerMsg | PeerMsg): Uint8Array {
  const frames = new FrameDecoder(MAX_SERVER_FRAME).push(encodeMessage(msg));
  expect(frames.length).toBe(1);
  expect(frames[0]!.kind).toBe(KIND_JSON);
  return frames[0]!.body;
}

const tricky = 'quotes " and \\ backslash, newline \n, tab \t, emoji 😀, accents é ñ ü, CJK 漢字, NUL \u0000';

const clientSamples: ClientMsg[] = [
  { t: "hello", v: 1, app: "termchat" },
  { t: "login", user: "hans", pass: "falcon" },
  { t: "login", user: "hans", pass: "falcon", peerPort: 54321 },
  { t: "message", id: 1, to: "yoda", text: tricky },
  { t: "message", id: 2, to: "yoda", text: "" },
  { t: "broadcast", id: 3, text: "hello all" },
  { t: "whoelse", id: 4 },
  { t: "whoelsesince", id: 5, seconds: 0 },
  { t: "whoelsesince", id: 6, seconds: 86_400 },
  { t: "block", id: 7, user: "vader" },
  { t: "unblock", id: 8, user: "vader" },
  { t: "logout", id: 9 },
  { t: "activity" },
  { t: "ack", upTo: 0 },
  { t: "ack", upTo: Number.MAX_SAFE_INTEGER },
  { t: "peer_request", id: 10, user: "luke" },
  { t: "peer_check", id: Number.MAX_SAFE_INTEGER, user: "luke", token: "abc_-123" },
  { t: "file_register", id: 11, name: "big.bin", size: 20, hashes: ["a".repeat(64), "b".repeat(64)] },
  { t: "file_register", id: 12, name: "big.bin", size: 20, hashes: ["a".repeat(64), "b".repeat(64)], have: [2] },
  { t: "file_have", id: 13, name: "big.bin", chunks: [1, 2] },
  { t: "file_search", id: 14, name: "big.bin" },
];

const serverSamples: ServerMsg[] = [
  { t: "hello_ok", v: 1, maxFrame: 65536 },
  ...LOGIN_CODES.map((code): ServerMsg => ({ t: "login_result", code, user: "hans" })),
  ...REPLY_CODES.map((code, i): ServerMsg => ({ t: "reply", id: i, code })),
  { t: "reply", id: 99, code: "users", users: [] },
  { t: "reply", id: 100, code: "users", users: ["yoda", "luke", "é😀"] },
  { t: "reply", id: 101, code: "peer", user: "luke", host: "127.0.0.1", port: 40000, token: "tok" },
  { t: "reply", id: 102, code: "file", size: 20, hashes: ["a".repeat(64)], users: ["luke"], maps: ["1"] },
  { t: "msg", from: "yoda", text: tricky, kind: "direct" },
  { t: "msg", from: "yoda", text: "b", kind: "broadcast" },
  { t: "msg", from: "yoda", text: "o", kind: "offline" },
  { t: "msg", from: "yoda", text: "o", kind: "offline", seq: 7 },
  { t: "presence", user: "luke", state: "in" },
  { t: "presence", user: "luke", state: "out" },
  { t: "kicked", reason: "timeout" },
  { t: "error", code: "not_logged_in" },
  { t: "error", code: "version", detail: "server speaks version 1" },
];

const peerSamples: PeerMsg[] = [
  { t: "peer_hello", v: 1, from: "hans", token: "t0k3n" },
  { t: "peer_welcome", user: "yoda" },
  { t: "peer_reject", reason: "bad token" },
  { t: "pm", text: tricky },
  { t: "pm_stop" },
  { t: "chunk_get", req: 1, name: "big.bin", chunk: 3 },
  { t: "chunk_ok", req: 1, size: 2_097_152 },
  { t: "chunk_none", req: 1, reason: "not_held" },
  { t: "chunk_cancel", req: 1 },
];

describe("round trips", () => {
  test("samples cover every message type of every direction", () => {
    expect([...new Set<string>(clientSamples.map((m) => m.t))].sort()).toEqual(Object.keys(C2S).sort());
    expect([...new Set<string>(serverSamples.map((m) => m.t))].sort()).toEqual(Object.keys(S2C).sort());
    expect([...new Set<string>(peerSamples.map((m) => m.t))].sort()).toEqual(Object.keys(P2P).sort());
  });

  for (const m of clientSamples) {
    test(`C2S ${JSON.stringify(m).slice(0, 70)}`, () => {
      expect(decodeClient(wire(m))).toEqual(m);
    });
  }
  for (const m of serverSamples) {
    test(`S2C ${JSON.stringify(m).slice(0, 70)}`, () => {
      expect(decodeServer(wire(m))).toEqual(m);
    });
  }
  for (const m of peerSamples) {
    test(`P2P ${JSON.stringify(m).slice(0, 70)}`, () => {
      expect(decodePeer(wire(m))).toEqual(m);
    });
  }

  test("the frame body is the UTF-8 JSON of the message", () => {
    expect(new TextDecoder().decode(wire({ t: "whoelse", id: 4 }))).toBe('{"t":"whoelse","id":4}');
  });

  test("a 4096-byte text of 4-byte characters, JSON-escaped, fits in one server frame", () => {
    const text = "😀".repeat(MAX_TEXT_BYTES / 4);
    expect(textBytes(text)).toBe(MAX_TEXT_BYTES);
    const m: ServerMsg = { t: "msg", from: "x".repeat(100), text, kind: "direct" };
    expect(decodeServer(wire(m))).toEqual(m);
  });

  test("a message of one direction is not a message of another", () => {
    expect(decodeClient(wire({ t: "hello_ok", v: 1, maxFrame: 1 }))).toBe('unknown message type "hello_ok"');
    expect(decodeServer(wire({ t: "login", user: "a", pass: "b" }))).toBe('unknown message type "login"');
    expect(decodePeer(wire({ t: "message", id: 1, to: "a", text: "b" }))).toBe('unknown message type "message"');
    expect(decodeClient(wire({ t: "pm", text: "x" }))).toBe('unknown message type "pm"');
  });
});

describe("textBytes counts UTF-8 bytes, not characters", () => {
  test.each([
    ["", 0],
    ["abc", 3],
    ["é", 2],
    ["漢", 3],
    ["😀", 4],
    ["aé漢😀", 10],
  ])("%p is %p bytes", (s, n) => {
    expect(textBytes(s)).toBe(n);
  });
});

describe("rejects", () => {
  test("non-JSON", () => {
    for (const b of ["", "{", "hello", "{t:'hello'}", '{"t":"activity"}}', "undefined"]) {
      expect(decodeClient(body(b))).toBe("frame body is not valid UTF-8 JSON");
    }
  });

  test("invalid UTF-8, even when the rest is valid JSON", () => {
    const cases = [
      [0x7b, 0xff, 0x7d], // a stray 0xFF
      [...body('{"t":"pm","text":"'), 0xc3, 0x28, ...body('"}')], // broken 2-byte sequence
      [...body('{"t":"pm","text":"'), 0xc0, 0xaf, ...body('"}')], // overlong "/"
      [...body('{"t":"pm","text":"'), 0xed, 0xa0, 0x80, ...body('"}')], // encoded lone surrogate
      [...body('{"t":"pm","text":"'), 0xe6, 0xbc, ...body('"}')], // truncated 3-byte sequence
    ];
    for (const c of cases) expect(decodePeer(new Uint8Array(c))).toBe("frame body is not valid UTF-8 JSON");
    // Control: the same frame with valid UTF-8 decodes.
    expect(decodePeer(new Uint8Array([...body('{"t":"pm","text":"'), 0xc3, 0xa9, ...body('"}')]))).toEqual({
      t: "pm",
      text: "é",
    });
  });

  test("JSON that is not an object: arrays, null, numbers, strings, booleans", () => {
    for (const v of [[], [{ t: "activity" }], null, 42, "activity", true]) {
      expect(decodeClient(obj(v))).toBe("message is not an object");
    }
  });

  test("missing or unknown type", () => {
    expect(decodeClient(obj({}))).toBe("unknown message type undefined");
    expect(decodeClient(obj({ id: 1 }))).toBe("unknown message type undefined");
    expect(decodeClient(obj({ t: "nope" }))).toBe('unknown message type "nope"');
    expect(decodeClient(obj({ t: 5 }))).toBe("unknown message type 5");
    expect(decodeClient(obj({ t: null }))).toBe("unknown message type null");
    expect(decodeClient(obj({ t: ["hello"] }))).toBe('unknown message type ["hello"]');
    expect(decodeClient(obj({ t: "HELLO", v: 1, app: "x" }))).toBe('unknown message type "HELLO"');
  });

  test("inherited property names are not message types", () => {
    for (const t of ["toString", "constructor", "__proto__", "hasOwnProperty", "valueOf"]) {
      expect(decodeClient(body(`{"t":"${t}"}`))).toBe(`unknown message type "${t}"`);
    }
  });

  test("the unknown type is cut short in the reason", () => {
    const r = decodeClient(obj({ t: "x".repeat(1000) }));
    expect(r).toBe(`unknown message type "${"x".repeat(39)}`);
  });

  test("missing required fields", () => {
    expect(decodeClient(obj({ t: "hello", app: "termchat" }))).toBe("hello.v: expected int");
    expect(decodeClient(obj({ t: "hello", v: 1 }))).toBe("hello.app: expected str");
    expect(decodeClient(obj({ t: "login", user: "a" }))).toBe("login.pass: expected str");
    expect(decodeClient(obj({ t: "message", id: 1, to: "a" }))).toBe("message.text: expected str");
    expect(decodeClient(obj({ t: "message", to: "a", text: "b" }))).toBe("message.id: expected int");
    expect(decodeServer(obj({ t: "login_result", user: "a" }))).toBe(
      `login_result.code: expected one of ${LOGIN_CODES.join("|")}`,
    );
    expect(decodeServer(obj({ t: "msg", from: "a", text: "b" }))).toBe("msg.kind: expected one of direct|broadcast|offline");
    expect(decodePeer(obj({ t: "peer_hello", v: 1, from: "a" }))).toBe("peer_hello.token: expected str");
  });

  test("wrong types", () => {
    expect(decodeClient(obj({ t: "message", id: "1", to: "a", text: "b" }))).toBe("message.id: expected int");
    expect(decodeClient(obj({ t: "message", id: 1, to: 7, text: "b" }))).toBe("message.to: expected str");
    expect(decodeClient(obj({ t: "message", id: 1, to: "a", text: ["b"] }))).toBe("message.text: expected str");
    expect(decodeClient(obj({ t: "message", id: 1, to: "a", text: null }))).toBe("message.text: expected str");
    expect(decodeClient(obj({ t: "message", id: 1, to: "a", text: { s: "b" } }))).toBe("message.text: expected str");
    expect(decodeClient(obj({ t: "whoelse", id: true }))).toBe("whoelse.id: expected int");
    expect(decodeServer(obj({ t: "reply", id: 1, code: "users", users: "yoda" }))).toBe("reply.users: expected strs");
    expect(decodeServer(obj({ t: "reply", id: 1, code: "users", users: ["yoda", 3] }))).toBe("reply.users: expected strs");
  });

  test("an optional field, when present, must have the right type (null is not absent)", () => {
    expect(decodeClient(obj({ t: "login", user: "a", pass: "b", peerPort: null }))).toBe("login.peerPort: expected int");
    expect(decodeClient(obj({ t: "login", user: "a", pass: "b", peerPort: "80" }))).toBe("login.peerPort: expected int");
    expect(decodeServer(obj({ t: "error", code: "x", detail: 5 }))).toBe("error.detail: expected str");
    expect(decodeServer(obj({ t: "reply", id: 1, code: "peer", port: -1 }))).toBe("reply.port: expected int");
  });

  test("negative, fractional and unsafe integers", () => {
    const reason = "whoelsesince.seconds: expected int";
    for (const seconds of [-1, -1000, 1.5, 0.1, 2 ** 53, 1e300]) {
      expect(decodeClient(obj({ t: "whoelsesince", id: 1, seconds }))).toBe(reason);
    }
    expect(decodeClient(obj({ t: "whoelsesince", id: 1, seconds: Number.MAX_SAFE_INTEGER }))).toEqual({
      t: "whoelsesince",
      id: 1,
      seconds: Number.MAX_SAFE_INTEGER,
    });
    expect(decodeClient(obj({ t: "message", id: -1, to: "a", text: "b" }))).toBe("message.id: expected int");
    expect(decodeClient(obj({ t: "hello", v: 1.0001, app: "x" }))).toBe("hello.v: expected int");
  });

  test("enum values outside their set", () => {
    expect(decodeServer(obj({ t: "login_result", code: "maybe", user: "a" }))).toBe(
      `login_result.code: expected one of ${LOGIN_CODES.join("|")}`,
    );
    expect(decodeServer(obj({ t: "login_result", code: "OK", user: "a" }))).toBe(
      `login_result.code: expected one of ${LOGIN_CODES.join("|")}`,
    );
    expect(decodeServer(obj({ t: "reply", id: 1, code: 0 }))).toBe(`reply.code: expected one of ${REPLY_CODES.join("|")}`);
    expect(decodeServer(obj({ t: "msg", from: "a", text: "b", kind: "private" }))).toBe(
      "msg.kind: expected one of direct|broadcast|offline",
    );
    expect(decodeServer(obj({ t: "presence", user: "a", state: "away" }))).toBe("presence.state: expected one of in|out");
    expect(decodeServer(obj({ t: "kicked", reason: "idle" }))).toBe("kicked.reason: expected one of timeout");
    expect(decodeServer(obj({ t: "kicked", reason: ["timeout"] }))).toBe("kicked.reason: expected one of timeout");
  });

  test("strings over MAX_FIELD_CHARS", () => {
    expect(decodeClient(obj({ t: "message", id: 1, to: "a", text: "x".repeat(MAX_FIELD_CHARS) }))).toEqual({
      t: "message",
      id: 1,
      to: "a",
      text: "x".repeat(MAX_FIELD_CHARS),
    });
    expect(decodeClient(obj({ t: "message", id: 1, to: "a", text: "x".repeat(MAX_FIELD_CHARS + 1) }))).toBe(
      "message.text: expected str",
    );
    expect(decodeClient(obj({ t: "login", user: "u".repeat(MAX_FIELD_CHARS + 1), pass: "p" }))).toBe(
      "login.user: expected str",
    );
    const longName = "n".repeat(MAX_FIELD_CHARS + 1);
    expect(decodeServer(obj({ t: "reply", id: 1, code: "users", users: ["ok", longName] }))).toBe("reply.users: expected strs");
  });

  test("lists over MAX_LIST entries", () => {
    const many = Array.from({ length: MAX_LIST }, (_, i) => `u${i}`);
    const ok = decodeServer(obj({ t: "reply", id: 1, code: "users", users: many }));
    expect(typeof ok).toBe("object");
    expect((ok as { users: string[] }).users.length).toBe(MAX_LIST);
    expect(decodeServer(obj({ t: "reply", id: 1, code: "users", users: [...many, "one more"] }))).toBe(
      "reply.users: expected strs",
    );
  });
});

describe("unknown extra fields", () => {
  test("are ignored: the message still decodes with its known fields intact", () => {
    const got = decodeClient(obj({ t: "message", id: 3, to: "yoda", text: "hi", future: { x: 1 }, extra: [1, 2] }));
    expect(typeof got).toBe("object");
    const m = got as Extract<ClientMsg, { t: "message" }>;
    expect([m.t, m.id, m.to, m.text]).toEqual(["message", 3, "yoda", "hi"]);
  });

  test("do not rescue a message with a missing known field", () => {
    expect(decodeClient(obj({ t: "message", id: 3, to: "yoda", txt: "hi" }))).toBe("message.text: expected str");
  });

  test("a message with no fields accepts extras", () => {
    expect(typeof decodeClient(obj({ t: "activity", since: 5 }))).toBe("object");
    expect(typeof decodePeer(obj({ t: "pm_stop", why: "bored" }))).toBe("object");
  });
});

describe("validate with every scalar kind", () => {
  const schema = {
    all: { s: "str", i: "int", b: "bool", ss: "strs", is: "ints", ob: "bool?", e: ["x", "y"] },
  } as const;

  test("accepts a valid value", () => {
    const v = { t: "all", s: "", i: 0, b: false, ss: [], is: [0, 5], e: "y" };
    expect(validate(schema, v)).toEqual(v as never);
    expect(decodeMessage(schema, obj({ ...v, ob: true }))).toEqual({ ...v, ob: true } as never);
  });

  test.each([
    [{ b: "false" }, "all.b: expected bool"],
    [{ b: 0 }, "all.b: expected bool"],
    [{ ob: "yes" }, "all.ob: expected bool"],
    [{ is: [1, -2] }, "all.is: expected ints"],
    [{ is: [1.5] }, "all.is: expected ints"],
    [{ is: "1,2" }, "all.is: expected ints"],
    [{ ss: [null] }, "all.ss: expected strs"],
    [{ e: "z" }, "all.e: expected one of x|y"],
    [{ e: undefined }, "all.e: expected one of x|y"],
  ])("rejects %j", (patch, reason) => {
    const v = { t: "all", s: "", i: 0, b: false, ss: [], is: [], e: "x", ...patch };
    expect(validate(schema, v)).toBe(reason);
  });
});
