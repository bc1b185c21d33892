/**
 * What a frame that arrives in pieces costs the decoder (behaviour.md §8: the cost of a
 * connection before login is bounded by a small constant whatever the sender does).
 * The bytes of an incomplete frame are gathered into one buffer that grows with what
 * has arrived: not one array per read, and not what the header promises.
 */
import { heapStats } from "bun:jsc";
import { describe, expect, test } from "bun:test";
import { encodeFrame, FrameDecoder, KIND_DATA, KIND_JSON } from "../../src/protocol/frame.ts";
import { prng } from "./prng.ts";

const MAX = 64 * 1024;

function header(len: number, kind = KIND_JSON): Uint8Array {
  const h = new Uint8Array(5);
  new DataView(h.buffer).setUint32(0, len);
  h[4] = kind;
  return h;
}

/** Each byte of `bytes` pushed as its own fresh one-byte array, as a socket read would be. */
function pushBytewise(dec: FrameDecoder, bytes: Uint8Array): number {
  let frames = 0;
  for (let i = 0; i < bytes.byteLength; i++) frames += dec.push(new Uint8Array([bytes[i]!])).length;
  return frames;
}

describe("gathering a frame", () => {
  test("a header promising 64 KiB allocates nothing near 64 KiB until the bytes come", () => {
    const dec = new FrameDecoder(MAX);
    dec.push(header(MAX));
    expect(dec.pendingBytes).toBe(5);
    expect(dec.capacityBytes).toBeLessThanOrEqual(256);
    dec.push(new Uint8Array(1000));
    expect(dec.pendingBytes).toBe(1005);
    expect(dec.capacityBytes).toBeLessThanOrEqual(2 * 1005);
  });

  test("fed a byte at a time, the buffer grows geometrically: capacity at most twice what is held, few reallocations", () => {
    const dec = new FrameDecoder(MAX);
    const f = encodeFrame(KIND_JSON, prng(1).bytes(40_000));
    const sizes = new Set<number>();
    for (let i = 0; i < f.byteLength - 1; i++) {
      expect(dec.push(new Uint8Array([f[i]!]))).toEqual([]);
      expect(dec.pendingBytes).toBe(i + 1);
      expect(dec.capacityBytes).toBeLessThanOrEqual(Math.max(256, 2 * (i + 1)));
      sizes.add(dec.capacityBytes);
    }
    // 1, 4, then 256 doubling to 40 005: a dozen sizes, not one per byte.
    expect(sizes.size).toBeLessThan(16);
    const [frame] = dec.push(new Uint8Array([f[f.byteLength - 1]!]));
    expect(frame!.body).toEqual(f.subarray(5));
    expect(dec.pendingBytes).toBe(0);
    expect(dec.capacityBytes).toBe(0);
  });

  test("20 000 single bytes of one frame add no per-read objects to the heap", () => {
    const dec = new FrameDecoder(MAX);
    const bytes = new Uint8Array(20_000);
    bytes.set(header(MAX), 0);
    Bun.gc(true);
    const before = heapStats();
    expect(pushBytewise(dec, bytes)).toBe(0);
    Bun.gc(true);
    const after = heapStats();
    expect(dec.pendingBytes).toBe(20_000);
    // One array per read was 20 000 typed arrays (~270 bytes each, ~5 MB); one buffer is one object.
    expect(after.objectCount - before.objectCount).toBeLessThan(1000);
    expect(after.extraMemorySize - before.extraMemorySize).toBeLessThan(2 * 20_000 + 4096);
    // and the frame still decodes once the rest arrives
    const rest = new Uint8Array(MAX + 4 - 20_000);
    expect(dec.push(rest)).toHaveLength(1);
  });

  test("streamData: a DATA header trickled in byte by byte, then its payload, comes out as views of the reads", () => {
    const dec = new FrameDecoder(MAX, { streamData: true });
    const head = header(5 + 3, KIND_DATA);
    const sid = new Uint8Array([0, 0, 1, 2]);
    expect(pushBytewise(dec, head)).toBe(0);
    expect(pushBytewise(dec, sid.subarray(0, 3))).toBe(0);
    const last = new Uint8Array([sid[3]!, 7, 8, 9]);
    const out = dec.push(last);
    expect(out).toHaveLength(1);
    expect(out[0]!.stream).toBe(258);
    expect([...out[0]!.body]).toEqual([7, 8, 9]);
    expect(out[0]!.body.buffer).toBe(last.buffer);
    expect(dec.capacityBytes).toBe(0);
  });

  test("a gathered frame is handed over with its buffer: the next frame does not overwrite it", () => {
    const dec = new FrameDecoder(MAX);
    const a = encodeFrame(KIND_JSON, new Uint8Array(300).fill(1));
    const b = encodeFrame(KIND_JSON, new Uint8Array(300).fill(2));
    dec.push(a.subarray(0, 100));
    const [fa] = dec.push(a.subarray(100));
    dec.push(b.subarray(0, 100));
    dec.push(b.subarray(100));
    expect(fa!.body.every((x) => x === 1)).toBe(true);
  });
});
