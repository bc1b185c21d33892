/**
 * behaviour.md §8: what one user can make the server hold in the file registry is capped in
 * bytes, and the global cap is one no single user can fill.
 */
import { describe, expect, test } from "bun:test";
import { MAX_CHUNKS } from "../../src/protocol/files.ts";
import { COST, DEFAULT_REGISTRY_LIMITS, fileCost, FileRegistry } from "../../src/server/files.ts";

const hashes = (n: number, salt: number) => Array.from({ length: n }, (_, i) => (salt * 1000 + i + 1).toString(16).padStart(64, "0"));
const all = () => true;

describe("registry caps in bytes", () => {
  test("one user registering max-size files is stopped at their byte cap; others still register", () => {
    const r = new FileRegistry();
    const per = fileCost("file-00000", MAX_CHUNKS) + COST.holder + MAX_CHUNKS * COST.chunk;
    let n = 0;
    while (r.register("mallory", `file-${String(n).padStart(5, "0")}`, 1 << 30, hashes(MAX_CHUNKS, n)).code === "new") n++;
    expect(n).toBe(Math.floor(DEFAULT_REGISTRY_LIMITS.maxBytesPerUser / per));
    expect(r.bytesOf("mallory")).toBeLessThanOrEqual(DEFAULT_REGISTRY_LIMITS.maxBytesPerUser);
    const refused = r.register("mallory", "one-more", 1 << 30, hashes(MAX_CHUNKS, 99_999));
    expect(refused).toMatchObject({ code: "full" });
    expect((refused as { why: string }).why).toContain(`of ${DEFAULT_REGISTRY_LIMITS.maxBytesPerUser} bytes`);
    // mallory's cap is a small part of the registry: everyone else is unaffected
    expect(r.bytes).toBeLessThan(DEFAULT_REGISTRY_LIMITS.maxBytes / 32);
    expect(r.register("hans", "report.pdf", 1000, hashes(10, 7)).code).toBe("new");
  });

  test("the global cap refuses new files (registry_full) once reached, and frees as holders leave", () => {
    const one = fileCost("f0", 1) + COST.holder + COST.chunk;
    const r = new FileRegistry({ maxBytes: 5 * one, maxBytesPerUser: 2 * one });
    for (const [u, names] of [["a", ["f0", "f1"]], ["b", ["f2", "f3"]], ["c", ["f4"]]] as const) {
      for (const f of names) expect(r.register(u, f, 10, hashes(1, Number(f.slice(1)))).code).toBe("new");
    }
    expect(r.bytes).toBe(5 * one);
    expect(r.register("c", "f5", 10, hashes(1, 5)).code).toBe("full");
    r.dropUser("a");
    expect(r.bytes).toBe(3 * one);
    expect(r.register("c", "f5", 10, hashes(1, 5)).code).toBe("new");
  });

  test("a holder pays for a file it joins, then only for chunks it adds (repeats cost nothing)", () => {
    const r = new FileRegistry();
    r.register("hans", "f", 1000, hashes(10, 1), [1]);
    const file = fileCost("f", 10);
    expect(r.bytesOf("hans")).toBe(file + COST.holder + COST.chunk);
    expect(r.have("luke", "f", [1, 2, 2, 2])).toBe("ok");
    expect(r.bytesOf("luke")).toBe(file + COST.holder + 2 * COST.chunk);
    expect(r.have("luke", "f", [2, 3])).toBe("ok");
    expect(r.bytesOf("luke")).toBe(file + COST.holder + 3 * COST.chunk);
    // the registry holds the file once and two holdings
    expect(r.bytes).toBe(file + 2 * COST.holder + 4 * COST.chunk);
  });

  test("have past the per-user cap is registry_full and changes nothing", () => {
    const r = new FileRegistry({ maxBytes: 1 << 20, maxBytesPerUser: fileCost("f", 10) + COST.holder + 2 * COST.chunk });
    expect(r.register("hans", "f", 1000, hashes(10, 1), [1]).code).toBe("new");
    expect(r.have("hans", "f", [2])).toBe("ok");
    expect(r.have("hans", "f", [3])).toBe("full");
    expect(r.search("f", all)!.maps).toEqual(["1100000000"]);
  });

  test("refused, conflicting and bad registrations charge nothing; dropping every user returns the count to zero", () => {
    const r = new FileRegistry();
    r.register("hans", "f", 1000, hashes(10, 1));
    const before = r.bytes;
    expect(r.register("luke", "f", 1000, hashes(10, 2)).code).toBe("conflict");
    expect(r.register("luke", "../x", 1000, hashes(10, 2)).code).toBe("bad");
    expect(r.bytes).toBe(before);
    expect(r.bytesOf("luke")).toBe(0);
    for (let i = 0; i < 50; i++) r.register(`u${i}`, `g${i % 7}`, 100, hashes(4, i % 7), [1 + (i % 4)]);
    for (let i = 0; i < 50; i++) r.dropUser(`u${i}`);
    r.dropUser("hans");
    expect(r.bytes).toBe(0);
    expect(r.fileCount).toBe(0);
  });
});
