/**
 * Fetching one chunk (files/fetch.ts) on a manual clock and an in-memory link: the
 * stalled-transfer timer, and a chunk that arrives whole.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../../../src/common/clock.ts";
import { silentLogger } from "../../../src/common/logger.ts";
import { ChunkClient, STALL_MS, type FetchResult } from "../../../src/client/files/fetch.ts";
import { PeerConn } from "../../../src/client/peer/conn.ts";
import { FakeLink, until } from "./fake-link.ts";

const dir = mkdtempSync(join(tmpdir(), "termchat-fetch-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const content = new TextEncoder().encode("0123456789");
const hash = createHash("sha256").update(content).digest("hex");

function setup(name: string) {
  const path = join(dir, name);
  writeFileSync(path, new Uint8Array(content.length));
  const clock = new ManualClock();
  const link = new FakeLink();
  const client = new ChunkClient(new PeerConn("bob", link), silentLogger, clock);
  let result: FetchResult | null = null;
  const done = client.fetch("f.txt", 1, { path, start: 0, size: content.length, hash }).then((r) => (result = r));
  return { path, clock, link, client, done, result: () => result };
}

describe("stalled transfers", () => {
  test("no answer at all: given up and cancelled STALL_MS after the request, not before", async () => {
    const t = setup("a.part");
    await until(() => t.link.sent.length > 0, "chunk_get sent");
    expect(t.link.sent).toEqual([{ t: "chunk_get", req: 1, name: "f.txt", chunk: 1 }]);
    t.clock.advance(STALL_MS - 1);
    expect(t.link.sentTypes).toEqual(["chunk_get"]);
    t.clock.advance(1);
    expect(t.link.sent.at(-1)).toEqual({ t: "chunk_cancel", req: 1 });
    await t.done;
    expect(t.result()).toEqual({ outcome: "stalled", onDisk: false });
  });

  test("progress moves the deadline: STALL_MS after the last progress, not the first request", async () => {
    const t = setup("b.part");
    await until(() => t.link.sent.length > 0, "chunk_get sent");
    t.clock.advance(10_000);
    t.client.onMessage({ t: "chunk_ok", req: 1, size: content.length });
    t.clock.advance(STALL_MS - 1); // 24.999 s after the request, 14.999 s after chunk_ok
    expect(t.link.sentTypes).toEqual(["chunk_get"]);
    t.client.onData(1, content.slice(0, 4));
    t.clock.advance(STALL_MS - 1);
    expect(t.link.sentTypes).toEqual(["chunk_get"]);
    t.clock.advance(1);
    expect(t.link.sentTypes).toEqual(["chunk_get", "chunk_cancel"]);
    await t.done;
    expect(t.result()?.outcome).toBe("stalled");
  });

  test("a chunk that arrives whole is written, verified and never timed out", async () => {
    const t = setup("c.part");
    await until(() => t.link.sent.length > 0, "chunk_get sent");
    t.client.onMessage({ t: "chunk_ok", req: 1, size: content.length });
    t.client.onData(1, content.slice(0, 6));
    t.client.onData(1, content.slice(6));
    await t.done;
    expect(t.result()?.outcome).toBe("ok");
    expect(readFileSync(t.path)).toEqual(Buffer.from(content));
    t.clock.advance(STALL_MS * 2);
    expect(t.link.sentTypes).toEqual(["chunk_get"]);
  });
});

describe("a holder sending more than the chunk, or a planted link", () => {
  test("chunk_ok announcing more than the chunk's size: refused and cancelled, nothing written", async () => {
    const t = setup("d.part");
    await until(() => t.link.sent.length > 0, "chunk_get sent");
    t.client.onMessage({ t: "chunk_ok", req: 1, size: content.length + 1 });
    t.client.onData(1, content);
    await t.done;
    expect(t.result()).toEqual({ outcome: "error", onDisk: false });
    expect(t.link.sentTypes).toEqual(["chunk_get", "chunk_cancel"]);
    expect(readFileSync(t.path)).toEqual(Buffer.alloc(content.length));
  });

  test("data past the chunk's end: the piece that would cross it is not written, the fetch fails", async () => {
    const path = join(dir, "e.part");
    writeFileSync(path, new Uint8Array(content.length + 8));
    const client = new ChunkClient(new PeerConn("bob", new FakeLink()), silentLogger, new ManualClock());
    const done = client.fetch("f.txt", 1, { path, start: 0, size: content.length, hash });
    await until(() => client.active === 1, "request open");
    client.onMessage({ t: "chunk_ok", req: 1, size: content.length });
    client.onData(1, content.slice(0, 4));
    client.onData(1, new Uint8Array(content.length).fill(0x41)); // 4 + 10 > 10
    expect((await done).outcome).toBe("error");
    const after = readFileSync(path);
    expect(after.subarray(0, 4)).toEqual(Buffer.from(content.slice(0, 4)));
    expect(after.subarray(4)).toEqual(Buffer.alloc(content.length + 4));
  });

  test("a link planted at the target path is not followed: the fetch fails, the link's target is untouched", async () => {
    const victim = join(dir, "victim");
    writeFileSync(victim, "untouched");
    const path = join(dir, "g.part");
    symlinkSync(victim, path);
    const link = new FakeLink();
    const client = new ChunkClient(new PeerConn("bob", link), silentLogger, new ManualClock());
    expect(await client.fetch("f.txt", 1, { path, start: 0, size: content.length, hash })).toEqual({ outcome: "error", onDisk: false });
    expect(link.sent).toEqual([]);
    expect(readFileSync(victim, "utf8")).toBe("untouched");
  });

  test("a write that fails (a full disk: /dev/full) fails the chunk as soon as the worker meets it, not at its end", async () => {
    const link = new FakeLink();
    const client = new ChunkClient(new PeerConn("bob", link), silentLogger, new ManualClock());
    const big = 3 << 20;
    const done = client.fetch("f.txt", 1, { path: "/dev/full", start: 0, size: big, hash });
    await until(() => client.active === 1, "request open");
    client.onMessage({ t: "chunk_ok", req: 1, size: big });
    client.onData(1, new Uint8Array(1 << 20)); // a third of the chunk: the rest never comes
    expect(await done).toEqual({ outcome: "error", onDisk: false });
    expect(link.sentTypes).toEqual(["chunk_get", "chunk_cancel"]);
    expect(client.active).toBe(0);
  });
});
