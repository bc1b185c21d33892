import { describe, expect, test } from "bun:test";
import {
  dataFrameHeader,
  encodeDataFrame,
  encodeFrame,
  FRAME_HEADER,
  FrameDecoder,
  FrameError,
  KIND_COMPACT,
  KIND_DATA,
  KIND_JSON,
  type Frame,
} from "../../src/protocol/frame.ts";
import { concat, prng } from "./prng.ts";

const bytes = (...xs: number[]) => new Uint8Array(xs);

/** A header announcing `len` bytes (kind + body). */
function header(len: number): Uint8Array {
  const h = new Uint8Array(4);
  new DataView(h.buffer).setUint32(0, len);
  return h;
}

/** Run fn, expect a FrameError, return its code. */
function frameErrorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FrameError);
    expect(e).toBeInstanceOf(Error);
    return (e as FrameError).code;
  }
  throw new Error("expected a FrameError, nothing was thrown");
}

/** n frames of random kind and size (some empty, some large), deterministic for a seed. */
function randomFrames(seed: number, n: number, maxBody: number): Frame[] {
  const r = prng(seed);
  const frames: Frame[] = [];
  for (let i = 0; i < n; i++) {
    const size = r.next() < 0.1 ? 0 : r.int(0, maxBody);
    frames.push({ kind: r.next() < 0.5 ? KIND_JSON : KIND_DATA, body: r.bytes(size) });
  }
  return frames;
}

function plain(frames: Frame[]): { kind: number; body: number[] }[] {
  return frames.map((f) => ({ kind: f.kind, body: [...f.body] }));
}

/** Feed `pieces` to a decoder, checking pendingBytes after every push; return all frames. */
function feed(dec: FrameDecoder, pieces: Uint8Array[]): Frame[] {
  const out: Frame[] = [];
  let pushed = 0;
  let consumed = 0;
  for (const p of pieces) {
    pushed += p.byteLength;
    for (const f of dec.push(p)) {
      out.push(f);
      consumed += FRAME_HEADER + f.body.byteLength;
    }
    // Exactly the bytes not yet returned as frames are held, and never a whole frame's worth more.
    expect(dec.pendingBytes).toBe(pushed - consumed);
    expect(dec.pendingBytes).toBeLessThan(4 + dec.maxFrame);
  }
  return out;
}

/** Cut `all` at `cuts` random positions. */
function splitRandomly(all: Uint8Array, seed: number, cuts: number): Uint8Array[] {
  const r = prng(seed);
  const at = new Set<number>();
  while (at.size < Math.min(cuts, all.byteLength - 1)) at.add(r.int(1, all.byteLength - 1));
  const sorted = [...at].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let prev = 0;
  for (const c of sorted) {
    pieces.push(all.subarray(prev, c));
    prev = c;
  }
  pieces.push(all.subarray(prev));
  return pieces;
}

describe("encodeFrame", () => {
  test("lays out [u32 BE length of kind+body][kind][body]", () => {
    expect([...encodeFrame(KIND_JSON, bytes(10, 20, 30))]).toEqual([0, 0, 0, 4, 1, 10, 20, 30]);
    expect([...encodeFrame(KIND_DATA, bytes())]).toEqual([0, 0, 0, 1, 2]);
  });

  test("length is big-endian for bodies over 255 bytes", () => {
    const f = encodeFrame(KIND_JSON, new Uint8Array(0x1234));
    expect([...f.subarray(0, 5)]).toEqual([0, 0, 0x12, 0x35, 1]);
    expect(f.byteLength).toBe(FRAME_HEADER + 0x1234);
  });

  test("FRAME_HEADER is 5 bytes and the kinds are 1, 2 and 3", () => {
    expect(FRAME_HEADER).toBe(5);
    expect(KIND_JSON).toBe(1);
    expect(KIND_DATA).toBe(2);
    expect(KIND_COMPACT).toBe(3);
  });
});

describe("FrameDecoder round trips", () => {
  test("one frame in one chunk", () => {
    const dec = new FrameDecoder(1024);
    const frames = dec.push(encodeFrame(KIND_JSON, bytes(1, 2, 3)));
    expect(plain(frames)).toEqual([{ kind: KIND_JSON, body: [1, 2, 3] }]);
    expect(dec.pendingBytes).toBe(0);
  });

  test("a frame with an empty body", () => {
    const dec = new FrameDecoder(16);
    expect(plain(dec.push(encodeFrame(KIND_DATA, bytes())))).toEqual([{ kind: KIND_DATA, body: [] }]);
    expect(dec.pendingBytes).toBe(0);
  });

  test("an empty push returns nothing and holds nothing", () => {
    const dec = new FrameDecoder(16);
    expect(dec.push(new Uint8Array(0))).toEqual([]);
    expect(dec.pendingBytes).toBe(0);
  });

  test("a frame of exactly maxFrame (kind + body) is accepted", () => {
    const dec = new FrameDecoder(100);
    const body = prng(7).bytes(99);
    const frames = dec.push(encodeFrame(KIND_JSON, body));
    expect(frames.length).toBe(1);
    expect([...frames[0]!.body]).toEqual([...body]);
  });

  test("the decoder keeps working across many pushes (state fully reset between frames)", () => {
    const dec = new FrameDecoder(64);
    for (let i = 0; i < 50; i++) {
      const f = dec.push(encodeFrame(KIND_JSON, bytes(i, i + 1)));
      expect(plain(f)).toEqual([{ kind: KIND_JSON, body: [i, i + 1] }]);
    }
    expect(dec.pendingBytes).toBe(0);
  });

  const frames = randomFrames(20240601, 200, 3000);
  const stream = concat(frames.map((f) => encodeFrame(f.kind, f.body)));

  test("many frames merged into one chunk", () => {
    const dec = new FrameDecoder(4096);
    const got = feed(dec, [stream]);
    expect(got.length).toBe(200);
    expect(plain(got)).toEqual(plain(frames));
    expect(dec.pendingBytes).toBe(0);
  });

  for (const seed of [1, 2, 3, 42, 31337]) {
    test(`many frames split at random positions (seed ${seed})`, () => {
      const dec = new FrameDecoder(4096);
      const pieces = splitRandomly(stream, seed, 150 + seed % 300);
      expect(concat(pieces)).toEqual(stream);
      const got = feed(dec, pieces);
      expect(plain(got)).toEqual(plain(frames));
      expect(dec.pendingBytes).toBe(0);
    });
  }

  test("splits that land inside the 4-byte header, on the kind byte and right after it", () => {
    const f1 = encodeFrame(KIND_JSON, bytes(9, 8, 7, 6));
    const f2 = encodeFrame(KIND_DATA, bytes(5));
    const all = concat([f1, f2]);
    // Every single cut position, and every pair of cut positions.
    for (let i = 1; i < all.byteLength; i++) {
      for (let j = i; j < all.byteLength; j++) {
        const dec = new FrameDecoder(64);
        const got = feed(dec, [all.subarray(0, i), all.subarray(i, j), all.subarray(j)]);
        expect(plain(got)).toEqual([
          { kind: KIND_JSON, body: [9, 8, 7, 6] },
          { kind: KIND_DATA, body: [5] },
        ]);
      }
    }
  });

  test("a stream fed one byte at a time", () => {
    const small = randomFrames(99, 40, 300);
    const all = concat(small.map((f) => encodeFrame(f.kind, f.body)));
    const dec = new FrameDecoder(512);
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < all.byteLength; i++) pieces.push(all.subarray(i, i + 1));
    const got = feed(dec, pieces);
    expect(plain(got)).toEqual(plain(small));
    expect(dec.pendingBytes).toBe(0);
  });

  test("a frame completes exactly on its last byte, not before", () => {
    const f = encodeFrame(KIND_JSON, bytes(1, 2, 3, 4, 5));
    const dec = new FrameDecoder(64);
    for (let i = 0; i < f.byteLength - 1; i++) {
      expect(dec.push(f.subarray(i, i + 1))).toEqual([]);
      expect(dec.pendingBytes).toBe(i + 1);
    }
    const got = dec.push(f.subarray(f.byteLength - 1));
    expect(plain(got)).toEqual([{ kind: KIND_JSON, body: [1, 2, 3, 4, 5] }]);
    expect(dec.pendingBytes).toBe(0);
  });

  test("complete frames come out even when the chunk ends inside the next frame", () => {
    const a = encodeFrame(KIND_JSON, bytes(1));
    const b = encodeFrame(KIND_JSON, bytes(2, 2));
    const dec = new FrameDecoder(64);
    const got = dec.push(concat([a, b.subarray(0, 3)]));
    expect(plain(got)).toEqual([{ kind: KIND_JSON, body: [1] }]);
    expect(dec.pendingBytes).toBe(3);
    expect(plain(dec.push(b.subarray(3)))).toEqual([{ kind: KIND_JSON, body: [2, 2] }]);
  });
});

describe("FrameDecoder errors", () => {
  test("over maxFrame throws too_large as soon as the header is in, no body needed", () => {
    const dec = new FrameDecoder(100);
    expect(frameErrorCode(() => dec.push(header(101)))).toBe("too_large");
  });

  test("setMaxFrame: a frame refused under the small limit is accepted once the limit is raised", () => {
    const dec = new FrameDecoder(100);
    expect(frameErrorCode(() => new FrameDecoder(100).push(encodeFrame(KIND_JSON, new Uint8Array(500))))).toBe("too_large");
    expect(plain(dec.push(encodeFrame(KIND_JSON, bytes(7))))).toEqual([{ kind: KIND_JSON, body: [7] }]);
    dec.setMaxFrame(1000);
    expect(dec.maxFrame).toBe(1000);
    const [f] = dec.push(encodeFrame(KIND_JSON, new Uint8Array(500)));
    expect(f!.body.byteLength).toBe(500);
    expect(frameErrorCode(() => dec.push(header(1001)))).toBe("too_large");
  });

  test("a header announcing 4 GiB throws too_large at once", () => {
    const dec = new FrameDecoder(64 * 1024);
    expect(frameErrorCode(() => dec.push(header(0xffffffff)))).toBe("too_large");
  });

  test("too_large detected when the header arrives in pieces, on its 4th byte", () => {
    const dec = new FrameDecoder(100);
    const h = header(1000);
    expect(dec.push(h.subarray(0, 1))).toEqual([]);
    expect(dec.push(h.subarray(1, 3))).toEqual([]);
    expect(dec.pendingBytes).toBe(3);
    expect(frameErrorCode(() => dec.push(h.subarray(3, 4)))).toBe("too_large");
  });

  test("too_large for a frame after a good one in the same chunk", () => {
    const dec = new FrameDecoder(100);
    const chunk = concat([encodeFrame(KIND_JSON, bytes(1)), header(5000)]);
    expect(frameErrorCode(() => dec.push(chunk))).toBe("too_large");
  });

  test("a header announcing exactly maxFrame is held, waiting for its body", () => {
    const dec = new FrameDecoder(100);
    expect(dec.push(header(100))).toEqual([]);
    expect(dec.pendingBytes).toBe(4);
  });

  test("the too_large message names the length and the limit", () => {
    const dec = new FrameDecoder(100);
    try {
      dec.push(header(101));
      throw new Error("no throw");
    } catch (e) {
      expect((e as Error).message).toBe("frame of 101 bytes over the limit of 100");
    }
  });

  test("zero length throws bad_length", () => {
    const dec = new FrameDecoder(100);
    expect(frameErrorCode(() => dec.push(header(0)))).toBe("bad_length");
  });

  test("zero length after a good frame throws bad_length", () => {
    const dec = new FrameDecoder(100);
    expect(dec.push(encodeFrame(KIND_DATA, bytes(1))).length).toBe(1);
    expect(frameErrorCode(() => dec.push(bytes(0, 0, 0, 0, 1)))).toBe("bad_length");
  });

  for (const kind of [0, 4, 127, 255]) {
    test(`unknown kind ${kind} throws bad_kind`, () => {
      const dec = new FrameDecoder(100);
      expect(frameErrorCode(() => dec.push(encodeFrame(kind, bytes(1, 2))))).toBe("bad_kind");
    });
  }

  test("bad_kind is reported once the frame is complete (kind byte split from header)", () => {
    const dec = new FrameDecoder(100);
    const f = encodeFrame(9, bytes(1));
    expect(dec.push(f.subarray(0, 5))).toEqual([]);
    expect(frameErrorCode(() => dec.push(f.subarray(5)))).toBe("bad_kind");
  });

  test("pendingBytes stays bounded while a large legal frame trickles in", () => {
    const max = 10_000;
    const dec = new FrameDecoder(max);
    const f = encodeFrame(KIND_DATA, prng(5).bytes(max - 1));
    let peak = 0;
    for (let i = 0; i < f.byteLength; i += 333) {
      dec.push(f.subarray(i, Math.min(i + 333, f.byteLength)));
      peak = Math.max(peak, dec.pendingBytes);
    }
    expect(dec.pendingBytes).toBe(0);
    expect(peak).toBeLessThanOrEqual(max + 4);
    expect(peak).toBeGreaterThan(max - 333);
  });
});

describe("data frames", () => {
  test("encodeDataFrame lays out header, stream id (u32 BE) and payload", () => {
    const f = encodeDataFrame(0x01020304, bytes(0xaa, 0xbb));
    expect([...f]).toEqual([0, 0, 0, 7, KIND_DATA, 1, 2, 3, 4, 0xaa, 0xbb]);
  });

  test("dataFrameHeader + payload equals encodeDataFrame", () => {
    const payload = prng(11).bytes(777);
    const head = dataFrameHeader(42, payload.byteLength);
    expect(head.byteLength).toBe(FRAME_HEADER + 4);
    expect([...concat([head, payload])]).toEqual([...encodeDataFrame(42, payload)]);
  });

  test("a streaming decoder hands a data frame's payload on as a view of the pushed bytes", () => {
    const payload = prng(12).bytes(5000);
    const wire = encodeDataFrame(7, payload);
    const frames = new FrameDecoder(8192, { streamData: true }).push(wire);
    expect(frames.length).toBe(1);
    expect(frames[0]!.kind).toBe(KIND_DATA);
    expect(frames[0]!.stream).toBe(7);
    expect([...frames[0]!.body]).toEqual([...payload]);
    expect(frames[0]!.body.buffer).toBe(wire.buffer); // not copied
    expect(frames[0]!.body.byteOffset).toBe(FRAME_HEADER + 4);
  });

  test("a frame arriving in three reads comes out as three pieces, each a view of its read", () => {
    const payload = prng(13).bytes(3000);
    const wire = encodeDataFrame(9, payload);
    const reads = [wire.slice(0, 1000), wire.slice(1000, 2000), wire.slice(2000)];
    const dec = new FrameDecoder(8192, { streamData: true });
    const pieces = reads.map((r) => dec.push(r));
    expect(pieces.map((p) => p.length)).toEqual([1, 1, 1]);
    pieces.forEach((p, i) => {
      expect(p[0]!.stream).toBe(9);
      expect(p[0]!.body.buffer).toBe(reads[i]!.buffer);
    });
    expect([...concat(pieces.map((p) => p[0]!.body))]).toEqual([...payload]);
    expect(dec.pendingBytes).toBe(0);
  });

  test("stream ids up to 2^32-1 and an empty payload survive", () => {
    const dec = new FrameDecoder(64, { streamData: true });
    const frames = dec.push(concat([encodeDataFrame(0xffffffff, bytes()), encodeDataFrame(0, bytes(1))]));
    expect(frames.map((f) => ({ stream: f.stream, payload: [...f.body] }))).toEqual([
      { stream: 0xffffffff, payload: [] },
      { stream: 0, payload: [1] },
    ]);
  });

  test("streaming: a data frame too short for its stream id, and an unknown kind, are refused at once", () => {
    const short = concat([header(4), bytes(KIND_DATA, 0, 0, 0)]);
    expect(frameErrorCode(() => new FrameDecoder(64, { streamData: true }).push(short))).toBe("bad_length");
    // The kind byte is enough: the rest of the 60-byte body never has to arrive.
    expect(frameErrorCode(() => new FrameDecoder(64, { streamData: true }).push(concat([header(60), bytes(9)])))).toBe("bad_kind");
    // Without streaming, a frame is judged whole: nothing yet.
    expect(new FrameDecoder(64).push(concat([header(60), bytes(9)]))).toEqual([]);
  });

  test("mixed JSON and data frames, split randomly, keep their order and streams", () => {
    const r = prng(77);
    type Item = { json?: number[]; stream?: number; payload?: number[] };
    const sent: Item[] = [];
    const wire: Uint8Array[] = [];
    for (let i = 0; i < 60; i++) {
      if (r.next() < 0.5) {
        const body = r.bytes(r.int(1, 50));
        sent.push({ json: [...body] });
        wire.push(encodeFrame(KIND_JSON, body));
      } else {
        const stream = r.int(0, 1000);
        const payload = r.bytes(r.int(0, 2000));
        sent.push({ stream, payload: [...payload] });
        wire.push(encodeDataFrame(stream, payload));
      }
    }
    // Pieces of one frame are joined back (an empty frame gives one empty piece).
    const dec = new FrameDecoder(4096, { streamData: true });
    const got: Item[] = [];
    let left = 0;
    for (const piece of splitRandomly(concat(wire), 78, 100)) {
      for (const f of dec.push(piece)) {
        if (f.kind === KIND_JSON) {
          expect(left).toBe(0);
          got.push({ json: [...f.body] });
        } else if (left > 0) {
          const last = got[got.length - 1]!;
          expect(f.stream).toBe(last.stream!);
          last.payload!.push(...f.body);
          left -= f.body.byteLength;
        } else {
          const want = sent[got.length]!.payload!.length;
          got.push({ stream: f.stream!, payload: [...f.body] });
          left = want - f.body.byteLength;
        }
      }
    }
    expect(got).toEqual(sent);
  });
});
