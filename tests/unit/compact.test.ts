/**
 * Protocol version 3's compact frames (src/protocol/compact.ts, docs/protocol.md §8):
 * - every message with a compact form decodes to exactly the message its JSON form
 *   decodes to (or both forms are refused, for a field over the string limit);
 * - the encoders leave as JSON exactly what has no compact form (checked against a
 *   model written from the protocol page, both ways);
 * - the bytes of one example of each layout, as the protocol page shows them;
 * - malformed bodies (truncated, unknown op/kind/state/code, bad UTF-8, a name
 *   without its 0 byte) give a one-line reason, and random bytes never throw: what
 *   decodes is a valid message whose compact form is those very bytes.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  decodeClientFrame,
  decodeCompactClient,
  decodeCompactServer,
  decodeServerFrame,
  encodeCompactClient,
  encodeCompactServer,
} from "../../src/protocol/compact.ts";
import { FrameDecoder, KIND_COMPACT } from "../../src/protocol/frame.ts";
import {
  decodeClient,
  decodeServer,
  encodeMessage,
  MAX_PEER_FRAME,
  MAX_SERVER_FRAME,
  REPLY_CODES,
  type ClientMsg,
  type ServerMsg,
} from "../../src/protocol/messages.ts";
import { MAX_FIELD_CHARS } from "../../src/protocol/schema.ts";
import { plain } from "./plain.ts";

const U32_MAX = 0xffff_ffff;
const utf8 = new TextEncoder();
const strict = new TextDecoder("utf-8", { fatal: true });

/**
 * The one frame in `bytes`, read as a receiver reads it: its kind and body (a view, at
 * offset 5). The limit is a peer link's: two fields at the string limit make a frame over
 * the server link's, and that limit is not what is tested here.
 */
function frameOf(bytes: Uint8Array): { kind: number; body: Uint8Array } {
  const frames = new FrameDecoder(MAX_PEER_FRAME).push(bytes);
  expect(frames).toHaveLength(1);
  return frames[0]!;
}
const jsonBody = (m: ClientMsg | ServerMsg) => frameOf(encodeMessage(m)).body;
const bytes = (...parts: (number | string)[]) =>
  [...parts.flatMap((p) => (typeof p === "number" ? [p] : [...utf8.encode(p)]))];

/** A string survives UTF-8 (no lone surrogate): the model's test, independent of the code's. */
const utf8Safe = (s: string) => new TextDecoder().decode(utf8.encode(s)) === s;

// ---- arbitraries ----

/** Characters that matter here: a 0, lone surrogates, a real U+FFFD, multi-byte ones, any code point. */
const char = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
  { weight: 3, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.constantFrom("\0", "\ud800", "\udfff", "\ufffd", "é", "😀", "\n", "\x1b") },
);
const str = (maxLength: number) => fc.string({ unit: char, maxLength });
/** Now and then a string at or just over the per-field limit (16 384 UTF-16 units). */
const field = (maxLength: number) =>
  fc.oneof({ weight: 20, arbitrary: str(maxLength) }, { weight: 1, arbitrary: fc.constantFrom(MAX_FIELD_CHARS, MAX_FIELD_CHARS + 1).map((n) => "ü".repeat(n)) });
const id = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: U32_MAX }) },
  { weight: 1, arbitrary: fc.constantFrom(0, U32_MAX, U32_MAX + 1, Number.MAX_SAFE_INTEGER) },
  { weight: 1, arbitrary: fc.maxSafeNat() },
);

const replyFields = fc.record(
  {
    users: fc.array(str(8), { maxLength: 3 }),
    host: str(8),
    port: fc.integer({ min: 1, max: 65535 }),
    token: str(8),
    user: str(8),
    cert: str(8),
    size: fc.maxSafeNat(),
    hashes: fc.array(str(8), { maxLength: 2 }),
    maps: fc.array(str(8), { maxLength: 2 }),
    more: fc.boolean(),
  },
  { requiredKeys: [] },
);

const serverMsg: fc.Arbitrary<ServerMsg> = fc.oneof(
  fc.record(
    { t: fc.constant("msg"), from: field(12), text: field(40), kind: fc.constantFrom("direct", "broadcast", "offline"), seq: fc.maxSafeNat() },
    { requiredKeys: ["t", "from", "text", "kind"] },
  ),
  fc.tuple(id, fc.constantFrom(...REPLY_CODES), fc.oneof(fc.constant({}), replyFields)).map(([i, code, more]) => ({ t: "reply", id: i, code, ...more })),
  fc.record({ t: fc.constant("presence"), user: field(12), state: fc.constantFrom("in", "out") }),
  fc.record({ t: fc.constant("hello_ok"), v: fc.nat(5), maxFrame: fc.nat() }),
  fc.record({ t: fc.constant("login_result"), code: fc.constantFrom("ok", "busy"), user: str(8) }),
  fc.record({ t: fc.constant("kicked"), reason: fc.constant("timeout") }),
  fc.record({ t: fc.constant("error"), code: str(8) }),
) as fc.Arbitrary<ServerMsg>;

const clientMsg: fc.Arbitrary<ClientMsg> = fc.oneof(
  fc.record({ t: fc.constant("message"), id, to: field(12), text: field(40) }),
  fc.record({ t: fc.constant("broadcast"), id, text: field(40) }),
  fc.record({ t: fc.constant("whoelse"), id }),
  fc.record({ t: fc.constant("block"), id, user: str(8) }),
  fc.record({ t: fc.constant("ack"), upTo: fc.maxSafeNat() }),
  fc.record({ t: fc.constant("activity") }),
  fc.record({ t: fc.constant("hello"), v: fc.nat(5), app: str(8) }),
) as fc.Arbitrary<ClientMsg>;

/** The protocol page's rule: which messages have a compact form. */
function hasCompactForm(m: ServerMsg | ClientMsg): boolean {
  switch (m.t) {
    case "msg":
      return m.seq === undefined && m.kind !== "offline" && !m.from.includes("\0") && utf8Safe(m.from) && utf8Safe(m.text);
    case "reply":
      return m.id <= U32_MAX && Object.keys(m).every((k) => k === "t" || k === "id" || k === "code");
    case "presence":
      return utf8Safe(m.user);
    case "message":
      return m.id <= U32_MAX && !m.to.includes("\0") && utf8Safe(m.to) && utf8Safe(m.text);
    case "broadcast":
      return m.id <= U32_MAX && utf8Safe(m.text);
    default:
      return false;
  }
}

// ---- properties ----

describe("a compact frame means exactly its message's JSON form", () => {
  test("server → client: msg, bare reply, presence", () => {
    fc.assert(
      fc.property(serverMsg, (m) => {
        const frame = encodeCompactServer(m);
        expect(frame !== null).toBe(hasCompactForm(m));
        if (frame === null) return;
        const { kind, body } = frameOf(frame);
        expect(kind).toBe(KIND_COMPACT);
        const compact = decodeCompactServer(body);
        const json = decodeServer(jsonBody(m));
        // A field over the string limit is refused in both forms; anything else is the same message.
        if (typeof json === "string") expect(compact).toBeTypeOf("string");
        else expect(compact).toStrictEqual(json);
      }),
      { numRuns: 5000 },
    );
  });

  test("client → server: message, broadcast", () => {
    fc.assert(
      fc.property(clientMsg, (m) => {
        const frame = encodeCompactClient(m);
        expect(frame !== null).toBe(hasCompactForm(m));
        if (frame === null) return;
        const { kind, body } = frameOf(frame);
        expect(kind).toBe(KIND_COMPACT);
        const compact = plain(decodeCompactClient(body));
        const json = decodeClient(jsonBody(m));
        if (typeof json === "string") expect(compact).toBeTypeOf("string");
        else expect(compact).toStrictEqual(json);
      }),
      { numRuns: 5000 },
    );
  });

  test("a body in a Buffer (as sockets give) decodes as from a plain Uint8Array", () => {
    const m: ClientMsg = { t: "message", id: 9, to: "yoda", text: "hé 😀" };
    const body = frameOf(encodeCompactClient(m)!).body;
    expect(plain(decodeCompactClient(Buffer.from(body)))).toStrictEqual(m);
    expect(plain(decodeCompactClient(body))).toStrictEqual(m);
  });
});

describe("what goes as JSON", () => {
  test.each([
    ["an offline msg with its seq", { t: "msg", from: "hans", text: "hi", kind: "offline", seq: 4 }],
    ["an offline msg without seq (version 1)", { t: "msg", from: "hans", text: "hi", kind: "offline" }],
    ["a msg from a name holding a 0", { t: "msg", from: "ha\0ns", text: "hi", kind: "direct" }],
    ["a msg whose text has a lone surrogate", { t: "msg", from: "hans", text: "a\ud800b", kind: "direct" }],
    ["a reply with an id over 2^32 − 1", { t: "reply", id: U32_MAX + 1, code: "ok" }],
    ["a reply with a field", { t: "reply", id: 1, code: "ok", user: "yoda" }],
    ["a reply part with more", { t: "reply", id: 1, code: "users", users: [], more: true }],
    ["a presence of a name with a lone surrogate", { t: "presence", user: "\udc00", state: "in" }],
    ["hello_ok", { t: "hello_ok", v: 3, maxFrame: 65536 }],
    ["an error", { t: "error", code: "protocol" }],
  ] as [string, ServerMsg][])("server: %s", (_, m) => {
    expect(encodeCompactServer(m)).toBeNull();
  });

  test.each([
    ["a message with an id over 2^32 − 1", { t: "message", id: U32_MAX + 1, to: "yoda", text: "hi" }],
    ["a message to a name holding a 0", { t: "message", id: 1, to: "yo\0da", text: "hi" }],
    ["a message with a lone surrogate", { t: "message", id: 1, to: "yoda", text: "\ud800" }],
    ["a broadcast with an id over 2^32 − 1", { t: "broadcast", id: 2 ** 40, text: "hi" }],
    ["a whoelse", { t: "whoelse", id: 1 }],
    ["an ack", { t: "ack", upTo: 3 }],
  ] as [string, ClientMsg][])("client: %s", (_, m) => {
    expect(encodeCompactClient(m)).toBeNull();
  });

  test("a 0 in a text, or in a presence's name (the last field), is carried", () => {
    const msg: ServerMsg = { t: "msg", from: "hans", text: "a\0b", kind: "broadcast" };
    expect(decodeCompactServer(frameOf(encodeCompactServer(msg)!).body)).toStrictEqual(msg);
    const p: ServerMsg = { t: "presence", user: "a\0b", state: "in" };
    expect(decodeCompactServer(frameOf(encodeCompactServer(p)!).body)).toStrictEqual(p);
  });
});

// ---- the bytes, as docs/protocol.md §8 shows them ----

describe("layouts, byte by byte", () => {
  test("the reply codes' numbers (their order is wire format)", () => {
    expect([...REPLY_CODES]).toEqual([
      "ok", "stored", "blocked_you", "partial", "invalid_user", "self", "already", "not_blocked", "too_long",
      "bad_args", "offline", "users", "peer", "token_ok", "token_bad", "bye", "mailbox_full", "file_new",
      "file_same", "file_conflict", "file", "not_found", "registry_full", "storage_failure", "busy",
    ]);
  });

  const examples: [string, Uint8Array | null, number[]][] = [
    ["message", encodeCompactClient({ t: "message", id: 0x01020304, to: "yoda", text: "hé" }),
      bytes(0, 0, 0, 14, 3, 1, 1, 2, 3, 4, "yoda", 0, "h", 0xc3, 0xa9)],
    ["broadcast", encodeCompactClient({ t: "broadcast", id: 7, text: "hi" }), bytes(0, 0, 0, 8, 3, 2, 0, 0, 0, 7, "hi")],
    ["msg direct", encodeCompactServer({ t: "msg", from: "hans", text: "hi", kind: "direct" }),
      bytes(0, 0, 0, 10, 3, 1, 0, "hans", 0, "hi")],
    ["msg broadcast, empty text", encodeCompactServer({ t: "msg", from: "hans", text: "", kind: "broadcast" }),
      bytes(0, 0, 0, 8, 3, 1, 1, "hans", 0)],
    ["reply", encodeCompactServer({ t: "reply", id: 0xdeadbeef, code: "stored" }), bytes(0, 0, 0, 7, 3, 2, 0xde, 0xad, 0xbe, 0xef, 1)],
    ["reply busy", encodeCompactServer({ t: "reply", id: 0, code: "busy" }), bytes(0, 0, 0, 7, 3, 2, 0, 0, 0, 0, 24)],
    ["presence", encodeCompactServer({ t: "presence", user: "luke", state: "out" }), bytes(0, 0, 0, 7, 3, 3, 1, "luke")],
  ];
  test.each(examples)("%s", (_, got, want) => {
    expect(got === null ? null : [...got]).toEqual(want);
  });
});

// ---- malformed bodies ----

/** Decode with both decoders' error contract: a message or a one-line reason, never a throw. */
function reason(decode: (b: Uint8Array) => unknown, body: number[] | Uint8Array): unknown {
  const r = decode(Uint8Array.from(body));
  if (typeof r === "string") expect(r).not.toContain("\n");
  return r;
}

describe("malformed bodies get a reason", () => {
  /**
   * Every prefix of a valid body: cut in its fixed part (op, id, kind, state, code, the
   * name up to its 0) it is refused; cut in its text, it is that text's prefix when the
   * cut falls between characters, else refused as bad UTF-8.
   */
  function truncations<M>(decode: (b: Uint8Array) => M | string, body: Uint8Array, textFrom: number, withText: (t: string) => M) {
    for (let k = 0; k < body.byteLength; k++) {
      const got = plain(reason(decode, body.subarray(0, k)));
      if (k < textFrom) {
        expect(got).toBeTypeOf("string");
        continue;
      }
      let t: string | null;
      try {
        t = strict.decode(body.subarray(textFrom, k));
      } catch {
        t = null;
      }
      if (t === null) expect(got).toBeTypeOf("string");
      else expect(got).toStrictEqual(withText(t));
    }
  }

  test("every truncation of each layout", () => {
    const text = "hé😀";
    const msgBody = frameOf(encodeCompactServer({ t: "msg", from: "hänsel", text, kind: "direct" })!).body;
    truncations(decodeCompactServer, msgBody, 2 + utf8.encode("hänsel").byteLength + 1, (t): ServerMsg => ({ t: "msg", from: "hänsel", text: t, kind: "direct" }));
    const pBody = frameOf(encodeCompactServer({ t: "presence", user: "lükè", state: "in" })!).body;
    truncations(decodeCompactServer, pBody, 2, (t): ServerMsg => ({ t: "presence", user: t, state: "in" }));
    const rBody = frameOf(encodeCompactServer({ t: "reply", id: 5, code: "ok" })!).body;
    truncations(decodeCompactServer, rBody, 6, () => ({}));
    const mBody = frameOf(encodeCompactClient({ t: "message", id: 5, to: "yöda", text })!).body;
    truncations(decodeCompactClient, mBody, 5 + utf8.encode("yöda").byteLength + 1, (t): ClientMsg => ({ t: "message", id: 5, to: "yöda", text: t }));
    const bBody = frameOf(encodeCompactClient({ t: "broadcast", id: 5, text })!).body;
    truncations(decodeCompactClient, bBody, 5, (t): ClientMsg => ({ t: "broadcast", id: 5, text: t }));
  });

  test("a reply body longer than its 6 bytes", () => {
    expect(reason(decodeCompactServer, [2, 0, 0, 0, 1, 0, 0])).toBe("compact reply: wrong length");
  });

  test("unknown op, kind, state, code", () => {
    for (let op = 0; op < 256; op++) {
      if (op !== 1 && op !== 2) expect(reason(decodeCompactClient, [op, 0, 0, 0, 1, 0])).toBe(`unknown compact op ${op}`);
      if (op < 1 || op > 3) expect(reason(decodeCompactServer, [op, 0, 0, 0, 1, 0])).toBe(`unknown compact op ${op}`);
    }
    for (let k = 2; k < 256; k++) expect(reason(decodeCompactServer, bytes(1, k, "hans", 0, "hi"))).toBe(`compact msg: unknown kind ${k}`);
    for (let s = 2; s < 256; s++) expect(reason(decodeCompactServer, bytes(3, s, "luke"))).toBe(`compact presence: unknown state ${s}`);
    for (let c = REPLY_CODES.length; c < 256; c++) expect(reason(decodeCompactServer, [2, 0, 0, 0, 1, c])).toBe(`compact reply: unknown code ${c}`);
    expect(reason(decodeCompactServer, [])).toBe("compact frame without an op");
    expect(reason(decodeCompactClient, [])).toBe("compact frame without an op");
  });

  // A stray continuation byte, a lead byte cut short, an encoded surrogate, an overlong
  // 0 (which must not end a name), a code point over U+10FFFF, a byte no UTF-8 has.
  const badUtf8 = [[0x80], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xff]];

  test.each(badUtf8)("invalid UTF-8 %p in any string field", (...bad) => {
    const id = [0, 0, 0, 1];
    expect(reason(decodeCompactClient, bytes(1, ...id, "yo", ...bad, 0, "hi"))).toBe("compact message: not valid UTF-8");
    expect(reason(decodeCompactClient, bytes(1, ...id, "yoda", 0, "h", ...bad, "\ufffd"))).toBe("compact message: not valid UTF-8");
    expect(reason(decodeCompactClient, bytes(2, ...id, ...bad))).toBe("compact broadcast: not valid UTF-8");
    expect(reason(decodeCompactServer, bytes(1, 0, ...bad, "ans", 0, "hi"))).toBe("compact msg: not valid UTF-8");
    expect(reason(decodeCompactServer, bytes(1, 1, "hans", 0, "hi", ...bad))).toBe("compact msg: not valid UTF-8");
    expect(reason(decodeCompactServer, bytes(3, 0, "lu", ...bad, "ke"))).toBe("compact presence: not valid UTF-8");
  });

  test("a real U+FFFD is valid text", () => {
    expect(reason(decodeCompactServer, bytes(3, 0, "\ufffd"))).toStrictEqual({ t: "presence", user: "\ufffd", state: "in" });
  });

  test("a name without its 0 byte", () => {
    expect(reason(decodeCompactClient, bytes(1, 0, 0, 0, 1, "yoda hi"))).toBe("compact message: no end to the name");
    expect(reason(decodeCompactServer, bytes(1, 0, "hans hi"))).toBe("compact msg: no end to the name");
  });

  test("a field over 16 384 UTF-16 units, as in JSON", () => {
    const long = "x".repeat(MAX_FIELD_CHARS + 1);
    const ok = "x".repeat(MAX_FIELD_CHARS);
    expect(reason(decodeCompactClient, bytes(1, 0, 0, 0, 1, long, 0, "hi"))).toBe("compact message: field too long");
    expect(reason(decodeCompactClient, bytes(1, 0, 0, 0, 1, "yoda", 0, long))).toBe("compact message: field too long");
    expect(reason(decodeCompactClient, bytes(2, 0, 0, 0, 1, long))).toBe("compact broadcast: field too long");
    expect(reason(decodeCompactServer, bytes(1, 0, "hans", 0, long))).toBe("compact msg: field too long");
    expect(reason(decodeCompactServer, bytes(3, 0, long))).toBe("compact presence: field too long");
    expect(reason(decodeCompactServer, bytes(3, 0, ok))).toStrictEqual({ t: "presence", user: ok, state: "in" });
  });
});

// ---- fuzz ----

describe("random bytes", () => {
  /** Mostly a known op first, so the fuzz reaches every layout's checks. */
  const body = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 3 }), fc.uint8Array({ maxLength: 64 })).map(([op, b1, rest]) => Uint8Array.from([op, b1, ...rest])),
  );

  test("decodeCompactClient never throws; what decodes is valid and is its own compact form", () => {
    fc.assert(
      fc.property(body, (b) => {
        const m = decodeCompactClient(b);
        if (typeof m === "string") return;
        expect(decodeClient(jsonBody(m))).toStrictEqual(plain(m));
        expect([...frameOf(encodeCompactClient(m)!).body]).toEqual([...b]);
      }),
      { numRuns: 20000 },
    );
  });

  test("decodeCompactServer never throws; what decodes is valid and is its own compact form", () => {
    fc.assert(
      fc.property(body, (b) => {
        const m = decodeCompactServer(b);
        if (typeof m === "string") return;
        expect(decodeServer(jsonBody(m))).toStrictEqual(m);
        expect([...frameOf(encodeCompactServer(m)!).body]).toEqual([...b]);
      }),
      { numRuns: 20000 },
    );
  });
});

describe("decodeClientFrame / decodeServerFrame: either kind, as the programs read frames", () => {
  const stream = (...frames: Uint8Array[]) => new FrameDecoder(MAX_SERVER_FRAME).push(Buffer.concat(frames));
  const m: ClientMsg = { t: "message", id: 7, to: "yoda", text: "hi" };
  const msg: ServerMsg = { t: "msg", from: "luke", text: "hi", kind: "direct" };

  test("a JSON frame decodes either way; a compact one only once version 3 was agreed", () => {
    const [json, compact] = stream(encodeMessage(m), encodeCompactClient(m)!);
    expect(decodeClientFrame(json!, false)).toStrictEqual(m);
    expect(plain(decodeClientFrame(compact!, true))).toStrictEqual(m);
    expect(decodeClientFrame(compact!, false)).toBe("unexpected frame kind 3");
    const [sj, sc] = stream(encodeMessage(msg), encodeCompactServer(msg)!);
    expect(decodeServerFrame(sj!, true)).toStrictEqual(msg);
    expect(decodeServerFrame(sc!, true)).toStrictEqual(msg);
    expect(decodeServerFrame(sc!, false)).toBe("unexpected frame kind 3");
  });

  test("a frame that is not a view of a chunk (a test's own) decodes the same as one that is", () => {
    const [viaChunk] = stream(encodeCompactClient(m)!);
    expect(plain(decodeClientFrame({ kind: KIND_COMPACT, body: viaChunk!.body }, true))).toStrictEqual(plain(decodeClientFrame(viaChunk!, true)));
    expect(decodeClientFrame({ kind: 9, body: new Uint8Array(1) }, true)).toBe("unexpected frame kind 9");
  });
});
