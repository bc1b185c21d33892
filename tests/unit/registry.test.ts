/**
 * The file registry (src/server/files.ts) and its rules in the hub: register, have,
 * search with blockers hidden, holders dropped when their session ends; plus the
 * shared name and chunk-geometry rules (src/protocol/files.ts).
 */
import { describe, expect, test } from "bun:test";
import { badFileName, chunkCount, chunkRange, FS_NAME_BYTES, MAX_CHUNKS, MAX_FILE_SIZE, MAX_NAME_BYTES, validShape } from "../../src/protocol/files.ts";
import { COST, fileCost, FileRegistry } from "../../src/server/files.ts";
import { Bench } from "./hubkit.ts";

const h = (i: number) => i.toString(16).padStart(64, "0");
const hashes = (n: number, salt = 0) => Array.from({ length: n }, (_, i) => h(i + 1 + salt * 1000));
const all = () => true;

describe("file names and chunk geometry", () => {
  test("names that could leave the files folder or hide in it are refused", () => {
    for (const bad of ["", ".", "..", "../x", "a/b", "/etc/passwd", "a\\b", ".hidden", "..x", ".termchat", "nul\u0000x", "tab\tx", "esc\u001b[2J", "c1\u0085", "é".repeat(128), "é".repeat(121), "x".repeat(241), "x".repeat(250)]) {
      expect({ bad, why: badFileName(bad) }).not.toEqual({ bad, why: null });
    }
    for (const good of ["a", "big.bin", "song (1).mp3", "x..y", "x..", "naïve-日本.txt", "é".repeat(120), "x".repeat(240)]) {
      expect({ good, why: badFileName(good) }).toEqual({ good, why: null });
    }
  });

  test("the longest name leaves every file the client derives from it within the file-system limit", () => {
    expect(MAX_NAME_BYTES).toBe(240);
    const longest = "x".repeat(MAX_NAME_BYTES);
    expect(badFileName(longest)).toBeNull();
    expect(badFileName(longest + "x")).toBe("name too long");
    for (const suffix of [".json", ".part", ".copy", ".json.tmp"]) {
      expect(new TextEncoder().encode(longest + suffix).byteLength).toBeLessThanOrEqual(FS_NAME_BYTES);
    }
  });

  test("chunks cover the file exactly, in order, sizes differing by at most one byte", () => {
    for (const [size, n] of [[20 * 1048576, 10], [1000, 4], [10, 3], [7, 7], [1, 1], [0, 1], [MAX_FILE_SIZE, MAX_CHUNKS], [1073741824, 10]] as const) {
      let pos = 0;
      const sizes: number[] = [];
      for (let c = 1; c <= n; c++) {
        const r = chunkRange(size, n, c);
        expect(r.start).toBe(pos);
        sizes.push(r.end - r.start);
        pos = r.end;
      }
      expect(pos).toBe(size);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      if (size > 0) expect(Math.min(...sizes)).toBeGreaterThan(0);
    }
  });

  test("chunk count: never more chunks than bytes, an empty file is one chunk; shapes outside that are invalid", () => {
    expect(chunkCount(100, 10)).toBe(10);
    expect(chunkCount(5, 10)).toBe(5);
    expect(chunkCount(0, 10)).toBe(1);
    expect(validShape(5, 5)).toBe(true);
    expect(validShape(5, 6)).toBe(false);
    expect(validShape(0, 1)).toBe(true);
    expect(validShape(0, 2)).toBe(false);
    expect(validShape(1000, MAX_CHUNKS + 1)).toBe(false);
    expect(validShape(MAX_FILE_SIZE + 1, 10)).toBe(false);
    expect(validShape(-1, 1)).toBe(false);
  });
});

describe("FileRegistry", () => {
  test("register: new, same content again, other content under the same name", () => {
    const r = new FileRegistry();
    expect(r.register("hans", "f", 100, hashes(10))).toEqual({ code: "new" });
    expect(r.register("luke", "f", 100, hashes(10))).toEqual({ code: "same" });
    expect(r.register("hans", "f", 100, hashes(10))).toEqual({ code: "same" });
    expect(r.register("yoda", "f", 100, hashes(10, 1))).toEqual({ code: "conflict", size: 100, hashes: hashes(10) });
    expect(r.register("yoda", "f", 101, hashes(10))).toEqual({ code: "conflict", size: 100, hashes: hashes(10) });
    expect(r.register("yoda", "f", 100, hashes(5))).toMatchObject({ code: "conflict" });
    expect(r.holdersOf("f", 3).sort()).toEqual(["hans", "luke"]);
  });

  test("register refuses bad names, shapes, hashes and chunk numbers", () => {
    const r = new FileRegistry();
    expect(r.register("hans", "../f", 100, hashes(10)).code).toBe("bad");
    expect(r.register("hans", "f", 5, hashes(10)).code).toBe("bad");
    expect(r.register("hans", "f", 100, [...hashes(9), "XYZ"]).code).toBe("bad");
    expect(r.register("hans", "f", 100, [...hashes(9), h(1).toUpperCase().replace(/0/g, "A")]).code).toBe("bad");
    expect(r.register("hans", "f", 100, hashes(10), [0]).code).toBe("bad");
    expect(r.register("hans", "f", 100, hashes(10), [11]).code).toBe("bad");
    expect(r.register("hans", "f", 100, hashes(10), []).code).toBe("bad");
    expect(r.fileCount).toBe(0);
  });

  test("partial holders: register with `have`, then have() adds chunks", () => {
    const r = new FileRegistry();
    r.register("hans", "f", 100, hashes(10));
    expect(r.register("luke", "f", 100, hashes(10), [2, 3])).toEqual({ code: "same" });
    expect(r.holdersOf("f", 2).sort()).toEqual(["hans", "luke"]);
    expect(r.holdersOf("f", 4)).toEqual(["hans"]);
    expect(r.have("luke", "f", [4])).toBe("ok");
    expect(r.holdersOf("f", 4).sort()).toEqual(["hans", "luke"]);
    expect(r.have("luke", "f", [11])).toBe("bad");
    expect(r.have("luke", "g", [1])).toBe("not_found");
  });

  test("search: holders with their maps, most chunks first; hidden holders left out; unknown file", () => {
    const r = new FileRegistry();
    r.register("luke", "f", 100, hashes(4), [1, 3]);
    r.register("hans", "f", 100, hashes(4));
    expect(r.search("f", all)).toEqual({ size: 100, hashes: hashes(4), users: ["hans", "luke"], maps: ["1111", "1010"] });
    expect(r.search("f", (u) => u !== "hans")).toEqual({ size: 100, hashes: hashes(4), users: ["luke"], maps: ["1010"] });
    expect(r.search("g", all)).toBeUndefined();
  });

  test("search lists every holder however many hold the file (the server sends a long answer in parts)", () => {
    const r = new FileRegistry();
    for (let i = 0; i < 2000; i++) r.register(`user${i}`, "f", 1 << 20, hashes(MAX_CHUNKS));
    const a = r.search("f", all)!;
    expect(a.users).toHaveLength(2000);
    expect(a.maps).toHaveLength(2000);
  });

  test("dropUser: an offline user holds nothing; a file nobody holds is forgotten (name free again)", () => {
    const r = new FileRegistry();
    r.register("hans", "f", 100, hashes(10));
    r.register("luke", "f", 100, hashes(10), [1]);
    r.dropUser("hans");
    expect(r.search("f", all)!.users).toEqual(["luke"]);
    r.dropUser("luke");
    expect(r.search("f", all)).toBeUndefined();
    expect(r.fileCount).toBe(0);
    expect(r.register("yoda", "f", 100, hashes(10, 2))).toEqual({ code: "new" });
  });

  test("limits: bytes in all and per user (here room for 3 one-chunk files and 2 more holders in all, 2 files per user)", () => {
    const hold = COST.holder + COST.chunk;
    const one = fileCost("a", 1) + hold;
    const r = new FileRegistry({ maxBytes: 3 * one + 2 * hold, maxBytesPerUser: 2 * one + hold });
    expect(r.register("hans", "a", 10, hashes(1)).code).toBe("new");
    expect(r.register("hans", "b", 10, hashes(1)).code).toBe("new");
    expect(r.register("hans", "c", 10, hashes(1)).code).toBe("full");
    expect(r.register("hans", "a", 10, hashes(1)).code).toBe("same"); // already held: no new slot needed
    expect(r.register("luke", "c", 10, hashes(1)).code).toBe("new");
    expect(r.register("luke", "d", 10, hashes(1)).code).toBe("full"); // registry full
    expect(r.register("luke", "a", 10, hashes(1)).code).toBe("same");
    expect(r.have("luke", "b", [1])).toBe("full"); // luke is at his per-user limit
  });
});

describe("hub: file requests", () => {
  const reg = (b: Bench, sid: number, name: string, n = 10, salt = 0, have?: number[]) =>
    b.ask(sid, { t: "file_register", name, size: 1000, hashes: hashes(n, salt), ...(have ? { have } : {}) });

  test("register / search / have, with the reply codes of docs/protocol.md", () => {
    const b = new Bench();
    const hans = b.online("hans");
    const luke = b.online("luke");
    b.out.take(hans);
    expect(reg(b, hans, "f")).toEqual({ code: "file_new" });
    expect(reg(b, luke, "f")).toEqual({ code: "file_same" });
    expect(reg(b, luke, "f", 10, 1)).toEqual({ code: "file_conflict", size: 1000, hashes: hashes(10) });
    expect(reg(b, luke, "../f")).toEqual({ code: "bad_args" });
    expect(b.ask(luke, { t: "file_search", name: "f" })).toEqual({
      code: "file", size: 1000, hashes: hashes(10), users: ["hans", "luke"], maps: ["1111111111", "1111111111"],
    });
    expect(b.ask(luke, { t: "file_search", name: "g" })).toEqual({ code: "not_found" });
    expect(b.ask(luke, { t: "file_have", name: "g", chunks: [1] })).toEqual({ code: "not_found" });
    expect(b.ask(luke, { t: "file_have", name: "f", chunks: [0] })).toEqual({ code: "bad_args" });
    expect(b.ask(luke, { t: "file_have", name: "f", chunks: [1] })).toEqual({ code: "ok" });
  });

  test("holders who blocked the asker are hidden from them only; the asker sees itself", () => {
    const b = new Bench();
    const hans = b.online("hans");
    const luke = b.online("luke");
    const yoda = b.online("yoda");
    reg(b, hans, "f");
    reg(b, luke, "f", 10, 0, [2]);
    expect(b.ask(hans, { t: "block", user: "yoda" }).code).toBe("ok");
    expect(b.ask(yoda, { t: "file_search", name: "f" })).toMatchObject({ code: "file", users: ["luke"], maps: ["0100000000"] });
    expect(b.ask(luke, { t: "file_search", name: "f" })).toMatchObject({ users: ["hans", "luke"] });
    expect(b.ask(hans, { t: "file_search", name: "f" })).toMatchObject({ users: ["hans", "luke"] });
    // Blocked by every holder: to yoda the file is as good as not there.
    expect(b.ask(luke, { t: "block", user: "yoda" }).code).toBe("ok");
    expect(b.ask(yoda, { t: "file_search", name: "f" })).toEqual({ code: "file", size: 1000, hashes: hashes(10), users: [], maps: [] });
  });

  test("a holder's chunks go with their session (logout, disconnect, timeout) and come back when announced again", () => {
    const b = new Bench({ timeoutMs: 10_000 });
    const hans = b.online("hans");
    const luke = b.online("luke");
    reg(b, hans, "f");
    reg(b, luke, "f");
    b.hub.disconnect(hans);
    expect(b.ask(luke, { t: "file_search", name: "f" })).toMatchObject({ users: ["luke"] });
    const yoda = b.online("yoda");
    b.clock.advance(10_001); // luke and yoda time out
    expect((b.hub.files as FileRegistry).fileCount).toBe(0);
    const again = b.online("hans");
    expect(reg(b, again, "f", 10, 7)).toEqual({ code: "file_new" }); // forgotten: the name is free
    void yoda;
  });
});
