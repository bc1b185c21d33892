/**
 * Property tests (fast-check) of everything that parses bytes from the network
 * or text for the terminal: the frame decoder against a simple model, the
 * message decoder on arbitrary and mutated input, and stripControls. Each
 * property runs thousands of cases; a failure prints the shrunk counterexample
 * and its seed.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { encodeDataFrame, encodeFrame, FrameDecoder, FrameError, KIND_COMPACT, KIND_DATA, KIND_JSON, type Frame } from "../../src/protocol/frame.ts";
import { C2S, decodeClient, encodeMessage, type ClientMsg } from "../../src/protocol/messages.ts";
import { stripControls } from "../../src/common/sanitize.ts";

const MAX = 64; // a small frame limit, so random headers land on both sides of it

/** The reference: parse a whole byte stream at once, the obvious way. */
function model(stream: Uint8Array, maxFrame: number): { frames: Frame[]; error: string | null } {
  const frames: Frame[] = [];
  let off = 0;
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  while (stream.byteLength - off >= 4) {
    const len = view.getUint32(off);
    if (len < 1) return { frames, error: "bad_length" };
    if (len > maxFrame) return { frames, error: "too_large" };
    if (stream.byteLength - off - 4 < len) break;
    const kind = stream[off + 4]!;
    if (kind !== KIND_JSON && kind !== KIND_DATA && kind !== KIND_COMPACT) return { frames, error: "bad_kind" };
    frames.push({ kind, body: stream.slice(off + 5, off + 4 + len) });
    off += 4 + len;
  }
  return { frames, error: null };
}

/** Feed `stream` to a decoder cut at `cuts`; what came out, the error if any, and the most it held. */
function feed(stream: Uint8Array, cuts: number[], maxFrame: number) {
  const dec = new FrameDecoder(maxFrame);
  const frames: Frame[] = [];
  let maxHeld = 0;
  const points = [...new Set(cuts.map((c) => c % (stream.byteLength + 1)))].sort((a, b) => a - b);
  let prev = 0;
  for (const end of [...points, stream.byteLength]) {
    try {
      for (const f of dec.push(stream.subarray(prev, end))) frames.push({ kind: f.kind, body: f.body.slice() });
    } catch (e) {
      if (!(e instanceof FrameError)) throw e; // anything else is a bug
      return { frames, error: e.code as string, maxHeld };
    }
    maxHeld = Math.max(maxHeld, dec.pendingBytes);
    prev = end;
  }
  return { frames, error: null as string | null, maxHeld };
}

/** A stream built from plausible pieces: good frames, bad headers, kinds, short bodies, noise. */
const piece = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({ kind: fc.constantFrom(KIND_JSON, KIND_DATA), body: fc.uint8Array({ maxLength: MAX - 1 }) })
      .map((f) => encodeFrame(f.kind, f.body)),
  },
  fc.tuple(fc.integer({ min: 0, max: MAX + 2 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: MAX + 4 })).map(([len, kind, body]) => {
    const out = new Uint8Array(5 + body.byteLength);
    new DataView(out.buffer).setUint32(0, len);
    out[4] = kind;
    out.set(body, 5);
    return out;
  }),
  fc.integer({ min: 0, max: 0xffffffff }).map((len) => {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, len);
    return out;
  }),
  fc.uint8Array({ maxLength: 40 }),
);
const stream = fc.array(piece, { maxLength: 12 }).map((parts) => new Uint8Array(Buffer.concat(parts)));
const cuts = fc.array(fc.nat(), { maxLength: 30 });

describe("FrameDecoder against a model", () => {
  test("any stream, cut anywhere: the frames are a prefix of the model's, the error is the model's, memory is bounded", () => {
    fc.assert(
      fc.property(stream, cuts, (s, c) => {
        const want = model(s, MAX);
        const got = feed(s, c, MAX);
        expect(got.error).toBe(want.error);
        if (want.error === null) expect(got.frames).toEqual(want.frames);
        else expect(want.frames.slice(0, got.frames.length)).toEqual(got.frames);
        expect(got.maxHeld).toBeLessThan(4 + MAX + 1);
        for (const f of got.frames) expect(f.body.byteLength).toBeLessThan(MAX);
      }),
      { numRuns: 5000 },
    );
  });

  test("good frames survive any split, one byte at a time included", () => {
    const frames = fc.array(fc.record({ kind: fc.constantFrom(KIND_JSON, KIND_DATA), body: fc.uint8Array({ maxLength: 300 }) }), {
      maxLength: 20,
    });
    fc.assert(
      fc.property(frames, cuts, fc.boolean(), (fs, c, bytewise) => {
        const s = new Uint8Array(Buffer.concat(fs.map((f) => encodeFrame(f.kind, f.body))));
        const points = bytewise ? Array.from({ length: s.byteLength }, (_, i) => i) : c;
        const got = feed(s, points, 1024);
        expect(got.error).toBeNull();
        expect(got.frames).toEqual(fs.map((f) => ({ kind: f.kind, body: new Uint8Array(f.body) })));
      }),
      { numRuns: 1000 },
    );
  });

  test("pure noise never throws anything but a FrameError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 2000 }), cuts, (s, c) => {
        feed(s, c, 64 * 1024); // throws (failing the property) on any other error
      }),
      { numRuns: 3000 },
    );
  });
});

/** What a streaming decoder (streamData) hands on: JSON frames, and DATA payload bytes per stream. */
type Item = { kind: number; stream?: number; body: number[] };

/**
 * Normal form of a sequence of frames and DATA pieces: runs of DATA for one stream
 * joined, empty DATA dropped (piece boundaries carry no meaning).
 */
function normal(items: { kind: number; stream?: number; body: Uint8Array }[]): Item[] {
  const out: Item[] = [];
  for (const f of items) {
    if (f.kind === KIND_DATA) {
      if (f.body.byteLength === 0) continue;
      const last = out[out.length - 1];
      if (last && last.kind === KIND_DATA && last.stream === f.stream) last.body.push(...f.body);
      else out.push({ kind: KIND_DATA, stream: f.stream, body: [...f.body] });
    } else out.push({ kind: f.kind, body: [...f.body] });
  }
  return out;
}

/** The streaming reference: DATA payloads come out as far as they have arrived; the kind is checked at its byte. */
function streamModel(stream: Uint8Array, maxFrame: number): { items: Item[]; error: string | null } {
  const got: { kind: number; stream?: number; body: Uint8Array }[] = [];
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  let off = 0;
  const result = (error: string | null) => ({ items: normal(got), error });
  while (stream.byteLength - off >= 4) {
    const len = view.getUint32(off);
    if (len < 1) return result("bad_length");
    if (len > maxFrame) return result("too_large");
    const left = stream.byteLength - off - 4;
    if (left < 1) break;
    const kind = stream[off + 4]!;
    if (kind !== KIND_JSON && kind !== KIND_DATA && kind !== KIND_COMPACT) return result("bad_kind");
    if (kind === KIND_DATA) {
      if (len < 5) return result("bad_length");
      if (left < 5) break;
      const avail = Math.min(len - 5, left - 5);
      got.push({ kind, stream: view.getUint32(off + 5), body: stream.subarray(off + 9, off + 9 + avail) });
      if (avail < len - 5) break;
    } else {
      if (left < len) break;
      got.push({ kind, body: stream.subarray(off + 5, off + 4 + len) });
    }
    off += 4 + len;
  }
  return result(null);
}

/** Feed a streaming decoder; every pushed buffer is scribbled over once push() and its frames are done with. */
function feedStreaming(stream: Uint8Array, cuts: number[], maxFrame: number) {
  const dec = new FrameDecoder(maxFrame, { streamData: true });
  const got: { kind: number; stream?: number; body: Uint8Array }[] = [];
  let maxHeld = 0;
  const points = [...new Set(cuts.map((c) => c % (stream.byteLength + 1)))].sort((a, b) => a - b);
  let prev = 0;
  for (const end of [...points, stream.byteLength]) {
    const chunk = stream.slice(prev, end); // a buffer of its own, like a socket read
    try {
      for (const f of dec.push(chunk)) got.push({ kind: f.kind, stream: f.stream, body: f.body.slice() });
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      return { items: normal(got), error: e.code as string, maxHeld };
    }
    chunk.fill(0xee); // the decoder must not have kept any of it
    maxHeld = Math.max(maxHeld, dec.pendingBytes);
    prev = end;
  }
  return { items: normal(got), error: null as string | null, maxHeld };
}

describe("FrameDecoder with streamData against a model", () => {
  test("any stream, cut anywhere: same frames and DATA bytes as the model, nothing kept of a pushed buffer", () => {
    fc.assert(
      fc.property(stream, cuts, (s, c) => {
        const want = streamModel(s, MAX);
        const got = feedStreaming(s, c, MAX);
        expect(got.error).toBe(want.error);
        if (want.error === null) expect(got.items).toEqual(want.items);
        else {
          // Frames decoded in the push that failed are lost with it: a prefix, the last DATA run maybe cut.
          const n = got.items.length;
          expect(want.items.slice(0, Math.max(0, n - 1))).toEqual(got.items.slice(0, Math.max(0, n - 1)));
          if (n > 0) {
            const g = got.items[n - 1]!;
            const w = want.items[n - 1]!;
            expect({ kind: g.kind, stream: g.stream }).toEqual({ kind: w.kind, stream: w.stream });
            expect(w.body.slice(0, g.body.length)).toEqual(g.body);
          }
        }
        expect(got.maxHeld).toBeLessThan(4 + MAX + 1);
      }),
      { numRuns: 5000 },
    );
  });

  test("good frames survive any split, one byte at a time included, as pieces of at most what arrived", () => {
    const frames = fc.array(fc.record({ kind: fc.constantFrom(KIND_JSON, KIND_DATA), stream: fc.nat(3), body: fc.uint8Array({ maxLength: 300 }) }), {
      maxLength: 20,
    });
    fc.assert(
      fc.property(frames, cuts, fc.boolean(), (fs, c, bytewise) => {
        const s = new Uint8Array(
          Buffer.concat(fs.map((f) => (f.kind === KIND_DATA ? encodeDataFrame(f.stream, f.body) : encodeFrame(f.kind, f.body)))),
        );
        const points = bytewise ? Array.from({ length: s.byteLength }, (_, i) => i) : c;
        const got = feedStreaming(s, points, 1024);
        expect(got.error).toBeNull();
        expect(got.items).toEqual(normal(fs.map((f) => (f.kind === KIND_DATA ? f : { kind: f.kind, body: f.body }))));
      }),
      { numRuns: 1000 },
    );
  });
});

// ---- message decoding ----

const names = fc.constantFrom("hans", "yoda", "", "x".repeat(50), "\u001b[31m", "ünï");
const text = fc.string({ unit: "binary", maxLength: 200 });
const id = fc.nat();
const validClient: fc.Arbitrary<ClientMsg> = fc.oneof(
  fc.record({ t: fc.constant("hello" as const), v: fc.nat(), app: text }),
  fc.record({ t: fc.constant("login" as const), user: names, pass: text, peerPort: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }) }, { requiredKeys: ["t", "user", "pass"] }),
  fc.record({ t: fc.constant("message" as const), id, to: names, text }),
  fc.record({ t: fc.constant("broadcast" as const), id, text }),
  fc.record({ t: fc.constant("whoelse" as const), id }),
  fc.record({ t: fc.constant("whoelsesince" as const), id, seconds: fc.nat() }),
  fc.record({ t: fc.constant("block" as const), id, user: names }),
  fc.record({ t: fc.constant("unblock" as const), id, user: names }),
  fc.record({ t: fc.constant("logout" as const), id }),
  fc.record({ t: fc.constant("activity" as const) }),
  fc.record({ t: fc.constant("peer_request" as const), id, user: names }),
  fc.record({ t: fc.constant("peer_check" as const), id, user: names, token: text }),
) as fc.Arbitrary<ClientMsg>;

/** A valid message with one field replaced, removed or added. */
const mutated = fc
  .tuple(validClient, fc.nat(), fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 2 })), fc.boolean())
  .map(([m, k, v, add]) => {
    const o: Record<string, unknown> = { ...m };
    const keys = Object.keys(o);
    const key = add ? `extra${k % 3}` : keys[k % keys.length]!;
    if (v === undefined) delete o[key];
    else o[key] = v;
    return o;
  });

const utf8 = new TextEncoder();
const bodyOf = (frame: Uint8Array) => frame.subarray(5);

describe("decodeClient", () => {
  test("a valid message round-trips through frame and decoder unchanged", () => {
    fc.assert(
      fc.property(validClient, (m) => {
        const frames = new FrameDecoder(64 * 1024).push(encodeMessage(m));
        expect(frames).toHaveLength(1);
        const back = decodeClient(frames[0]!.body);
        expect(back).toEqual(JSON.parse(JSON.stringify(m)));
      }),
      { numRuns: 3000 },
    );
  });

  test("arbitrary bytes, arbitrary JSON and mutated messages: never throws; what it accepts is well-typed", () => {
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.jsonValue().map((v) => utf8.encode(JSON.stringify(v) ?? "null")),
      mutated.map((o) => utf8.encode(JSON.stringify(o))),
      validClient.map((m) => bodyOf(encodeMessage(m))).chain((b) =>
        fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([i, x]) => {
          const c = b.slice();
          if (c.byteLength) c[i % c.byteLength] = x; // one byte flipped
          return c;
        }),
      ),
    );
    fc.assert(
      fc.property(input, (bytes) => {
        const r = decodeClient(bytes);
        if (typeof r === "string") {
          expect(r.length).toBeLessThan(300);
          return;
        }
        expect(Object.hasOwn(C2S, r.t)).toBe(true);
        const spec = C2S[r.t] as Record<string, string | readonly string[]>;
        for (const [field, kind] of Object.entries(spec)) {
          const v = (r as Record<string, unknown>)[field];
          if (typeof kind === "string" && kind.endsWith("?") && v === undefined) continue;
          if (kind === "int" || kind === "int?") expect(Number.isSafeInteger(v) && (v as number) >= 0).toBe(true);
          if (kind === "str" || kind === "str?") expect(typeof v).toBe("string");
        }
      }),
      { numRuns: 10_000 },
    );
  });
});

describe("stripControls", () => {
  // C0, DEL, C1 and the bidi overrides/isolates (U+202A–U+202E, U+2066–U+2069).
  const ANY_CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
  const messy = fc
    .array(
      fc.oneof(
        fc.string({ unit: "binary", maxLength: 20 }),
        fc.constantFrom("\u202e", "\u2066", "\u001b[", "\u001b]", "\u009b", "\u009d", "\u001b\\", "\u0007", "\u009c", "\r", "\u001b[2J", "\u001b]0;t\u0007"),
        fc.stringMatching(/^\u001b\[[0-9;]{0,6}[A-Za-z]$/),
      ),
      { maxLength: 20 },
    )
    .map((xs) => xs.join(""));

  test("leaves no C0, DEL, C1 or bidi control, whatever the input, and is idempotent", () => {
    fc.assert(
      fc.property(messy, (s) => {
        const out = stripControls(s);
        expect(out).not.toMatch(ANY_CONTROL);
        expect(stripControls(out)).toBe(out);
      }),
      { numRuns: 5000 },
    );
  });

  test("text without controls is shown exactly as sent", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 100 }).map((s) => s.replace(new RegExp(ANY_CONTROL, "g"), "")), (s) => {
        expect(stripControls(s)).toBe(s);
      }),
      { numRuns: 3000 },
    );
  });
});
