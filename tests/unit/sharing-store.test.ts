/**
 * The client's files folder (src/client/files/store.ts): partial downloads and their
 * manifests survive a restart, the whole-content check before assembly finds a bad
 * chunk on disk, and a complete file edited since it was recorded is no longer shared.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStore } from "../../src/client/files/store.ts";
import { chunkRange } from "../../src/protocol/files.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function folder(): string {
  const d = mkdtempSync(join(tmpdir(), "store-test-"));
  dirs.push(d);
  return d;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
function hashesOf(data: Buffer, n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const { start, end } = chunkRange(data.byteLength, n, i + 1);
    return sha(data.subarray(start, end));
  });
}

/** Write chunk c of data into the .part, as a download would. */
async function put(store: FileStore, name: string, data: Buffer, n: number, c: number, corrupt = false): Promise<void> {
  const { start, end } = chunkRange(data.byteLength, n, c);
  const bytes = Buffer.from(data.subarray(start, end));
  if (corrupt) bytes[0] = bytes[0]! ^ 0xff;
  const fh = await open(store.partPath(name), "r+");
  await fh.write(bytes, 0, bytes.byteLength, start);
  await fh.close();
}

describe("FileStore", () => {
  test("hashFile gives the chunk hashes, reading in pieces", async () => {
    const dir = folder();
    const data = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(join(dir, "f.bin"), data);
    const store = new FileStore(dir);
    await store.init();
    expect(await store.hashFile(join(dir, "f.bin"), data.byteLength, 7)).toEqual(hashesOf(data, 7));
  });

  test("a partial download survives a restart: held chunks and the .part are found again", async () => {
    const dir = folder();
    const data = randomBytes(100_000);
    const hashes = hashesOf(data, 10);
    const a = new FileStore(dir);
    await a.init();
    const f = await a.startPartial("x.bin", data.byteLength, hashes);
    expect(statSync(a.partPath("x.bin")).size).toBe(100_000);
    for (const c of [2, 5]) {
      await put(a, "x.bin", data, 10, c);
      await a.markHeld(f, c, false);
    }
    const b = new FileStore(dir);
    await b.init();
    expect([...b.get("x.bin")!.have].sort()).toEqual([2, 5]);
    expect(b.get("x.bin")!.complete).toBe(false);
    // The same registry shape resumes it; another content under the name starts over.
    expect(await b.startPartial("x.bin", data.byteLength, hashes)).toBe(b.get("x.bin")!);
    const other = await b.startPartial("x.bin", data.byteLength, hashesOf(randomBytes(100_000), 10));
    expect(other.have.size).toBe(0);
  });

  test("before assembly the whole content is checked: a chunk bad on disk is found and no longer held", async () => {
    const dir = folder();
    const data = randomBytes(50_000);
    const hashes = hashesOf(data, 5);
    const store = new FileStore(dir);
    await store.init();
    const f = await store.startPartial("y.bin", data.byteLength, hashes);
    for (let c = 1; c <= 5; c++) {
      await put(store, "y.bin", data, 5, c, c === 4);
      await store.markHeld(f, c, false);
    }
    expect(await store.finish(f)).toEqual([4]);
    expect(f.have.has(4)).toBe(false);
    expect(f.complete).toBe(false);
    expect(existsSync(join(dir, "y.bin"))).toBe(false);

    await put(store, "y.bin", data, 5, 4);
    await store.markHeld(f, 4, false);
    expect(await store.finish(f)).toEqual([]);
    expect(f.complete).toBe(true);
    expect(readFileSync(join(dir, "y.bin")).equals(data)).toBe(true);
    expect(existsSync(store.partPath("y.bin"))).toBe(false);
  });

  test("chunks already hashed from the written bytes (onDisk) are not read again; the others are", async () => {
    const dir = folder();
    const data = randomBytes(50_000);
    const store = new FileStore(dir);
    await store.init();
    const f = await store.startPartial("z.bin", data.byteLength, hashesOf(data, 5));
    for (let c = 1; c <= 5; c++) {
      // Chunk 2 is claimed checked on disk although corrupt: finish trusts that check.
      await put(store, "z.bin", data, 5, c, c === 2 || c === 3);
      await store.markHeld(f, c, c === 2);
    }
    expect(await store.finish(f)).toEqual([3]);
  });

  test("a complete file is shared while unchanged; edited since it was recorded, it is dropped at the next start", async () => {
    const dir = folder();
    const data = randomBytes(10_000);
    writeFileSync(join(dir, "song.mp3"), data);
    const a = new FileStore(dir);
    await a.init();
    await a.adoptComplete("song.mp3", null, data.byteLength, hashesOf(data, 10));
    const b = new FileStore(dir);
    await b.init();
    expect(b.get("song.mp3")?.complete).toBe(true);
    expect(b.get("song.mp3")?.have.size).toBe(10);

    utimesSync(join(dir, "song.mp3"), new Date(), new Date(Date.now() + 5000));
    const c = new FileStore(dir);
    await c.init();
    expect(c.get("song.mp3")).toBeUndefined();
    expect(existsSync(join(dir, "song.mp3"))).toBe(true); // the file itself is left alone
  });

  test("manifests with bad names or contents are ignored", async () => {
    const dir = folder();
    const a = new FileStore(dir);
    await a.init();
    writeFileSync(join(a.meta, "..evil.json"), JSON.stringify({ v: 1, name: "..evil", size: 1, hashes: ["a".repeat(64)], have: [1], complete: false }));
    writeFileSync(join(a.meta, "junk.json"), "{not json");
    writeFileSync(join(a.meta, "k.json"), JSON.stringify({ v: 1, name: "k", size: 10, hashes: ["A"], have: [1], complete: false }));
    const b = new FileStore(dir);
    await b.init();
    expect([...b.files.keys()]).toEqual([]);
  });
});

describe("FileStore: nothing lost, nothing left behind", () => {
  test("leftovers of interrupted steps (.json.tmp, .copy, a .part without manifest) are removed at start; the rest stays", async () => {
    const dir = folder();
    const data = randomBytes(20_000);
    const a = new FileStore(dir);
    await a.init();
    const f = await a.startPartial("keep.bin", data.byteLength, hashesOf(data, 4));
    await put(a, "keep.bin", data, 4, 1);
    await a.markHeld(f, 1, false);
    for (const left of ["keep.bin.json.tmp", "other.bin.copy", "orphan.bin.part"]) writeFileSync(join(a.meta, left), "x");
    const outside = join(folder(), "victim");
    writeFileSync(outside, "untouched");
    symlinkSync(outside, join(a.meta, "linked.bin.json.tmp"));
    const logged: string[] = [];
    const b = new FileStore(dir);
    await b.init((l) => logged.push(l));
    expect(readdirSync(b.meta).sort()).toEqual(["keep.bin.json", "keep.bin.part"]);
    expect([...b.get("keep.bin")!.have]).toEqual([1]);
    expect(readFileSync(outside, "utf8")).toBe("untouched");
    expect(logged.filter((l) => l.includes("leftover")).length).toBe(4);
  });

  test("a partial holding no verified chunk cannot resume: dropped at start, with its .part", async () => {
    const dir = folder();
    const data = randomBytes(20_000);
    const a = new FileStore(dir);
    await a.init();
    await a.startPartial("empty.bin", data.byteLength, hashesOf(data, 4));
    expect(existsSync(a.partPath("empty.bin"))).toBe(true);
    const b = new FileStore(dir);
    await b.init();
    expect(b.get("empty.bin")).toBeUndefined();
    expect(readdirSync(b.meta)).toEqual([]);
  });

  test("the manifest says complete before the final rename: killed between them, the next start finishes the rename", async () => {
    const dir = folder();
    const data = randomBytes(30_000);
    const hashes = hashesOf(data, 3);
    const a = new FileStore(dir);
    await a.init();
    const f = await a.startPartial("k.bin", data.byteLength, hashes);
    for (let c = 1; c <= 3; c++) {
      await put(a, "k.bin", data, 3, c);
      await a.markHeld(f, c, false);
    }
    // What finish() leaves if killed right after saving the manifest: the complete manifest and the .part.
    const part = statSync(a.partPath("k.bin"));
    await a.save({ ...f, complete: true, mtimeMs: part.mtimeMs });
    expect(existsSync(join(dir, "k.bin"))).toBe(false);
    const b = new FileStore(dir);
    await b.init();
    expect(b.get("k.bin")?.complete).toBe(true);
    expect(readFileSync(join(dir, "k.bin")).equals(data)).toBe(true);
    expect(existsSync(b.partPath("k.bin"))).toBe(false);
  });

  test("a link planted at the .part path is refused (ELOOP): nothing is written through it", async () => {
    const dir = folder();
    const store = new FileStore(dir);
    await store.init();
    const outside = join(folder(), "victim");
    writeFileSync(outside, "untouched");
    symlinkSync(outside, store.partPath("t.bin"));
    const err = await store.startPartial("t.bin", 1000, hashesOf(randomBytes(1000), 2)).then(() => null, (e: NodeJS.ErrnoException) => e);
    expect(err?.code).toBe("ELOOP");
    expect(readFileSync(outside, "utf8")).toBe("untouched");
    expect(store.get("t.bin")).toBeUndefined();
  });

  test("stillNeeded: the file minus the chunks a matching partial holds", async () => {
    const dir = folder();
    const data = randomBytes(1000);
    const hashes = hashesOf(data, 4);
    const store = new FileStore(dir);
    await store.init();
    expect(store.stillNeeded("n.bin", 1000, hashes)).toBe(1000);
    const f = await store.startPartial("n.bin", 1000, hashes);
    await put(store, "n.bin", data, 4, 2);
    await store.markHeld(f, 2, false);
    expect(store.stillNeeded("n.bin", 1000, hashes)).toBe(750);
    // Another content under the name: it all has to come.
    expect(store.stillNeeded("n.bin", 1000, hashesOf(randomBytes(1000), 4))).toBe(1000);
    expect(store.freeBytes()).toBeGreaterThan(0);
  });
});
