import { describe, expect, test } from "bun:test";
import { busySegments, idleNodes, tableLines, tally, type Profile, type ProfileNode } from "../../bench/lib/profile.ts";

const node = (id: number, functionName: string, children: number[] = [], lineNumber = 0): ProfileNode => ({
  id,
  callFrame: { functionName, url: "file:///work/src/server/hub.ts", lineNumber },
  children,
});

// (root) ─┬─ login ── enter ── login (a recursive call)
//         ├─ write
//         ├─ (garbage collector)
//         ├─ (idle)
//         └─ (program)
const nodes = [
  node(1, "(root)", [2, 5, 6, 7, 8]),
  node(2, "login", [3], 37),
  node(3, "enter", [4], 228),
  node(4, "login", [], 37),
  node(5, "write"),
  node(6, "(garbage collector)"),
  node(7, "(idle)"),
  node(8, "(program)"),
];

describe("bench profile reading (storm-waves --profile)", () => {
  test("self counts the top of the stack; inclusive every function on it once, recursion included; idle samples are not work", () => {
    const p: Profile = { nodes, samples: [2, 3, 4, 5, 5, 6, 7, 8], timeDeltas: [250, 250, 250, 250, 250, 250, 250, 250] };
    const t = tally(p, [[0, p.samples.length]], 0.25);
    expect(t.total).toBe(1.5); // 6 busy samples: the GC's counts, idle and program do not
    expect(Object.fromEntries(t.self)).toEqual({
      "login server/hub.ts:38": 0.5,
      "enter server/hub.ts:229": 0.25,
      "write server/hub.ts:1": 0.5,
      "(garbage collector) server/hub.ts:1": 0.25,
    });
    // login is on the stack of samples 2, 3 and 4 (twice on the last: counted once); enter on 3 and 4.
    expect(t.inclusive.get("login server/hub.ts:38")).toBe(0.75);
    expect(t.inclusive.get("enter server/hub.ts:229")).toBe(0.5);
    expect(t.inclusive.get("write server/hub.ts:1")).toBe(0.5);
    expect([...t.inclusive.keys()].some((k) => k.startsWith("(root)"))).toBe(false);
    expect(tableLines(t.inclusive, t.total, 2)).toEqual([" 50.0 %      0.8 ms  login server/hub.ts:38", " 33.3 %      0.5 ms  enter server/hub.ts:229"]);
  });

  test("ranges: only the samples inside them are counted, and several add up", () => {
    const p: Profile = { nodes, samples: [2, 5, 5, 3], timeDeltas: [1, 1, 1, 1] };
    expect(tally(p, [[1, 3]], 0.25).total).toBe(0.5);
    const both = tally(p, [[0, 1], [3, 4]], 0.25);
    expect(both.total).toBe(0.5);
    expect(both.inclusive.get("login server/hub.ts:38")).toBe(0.5);
    expect(both.self.has("write server/hub.ts:1")).toBe(false);
  });

  test("busy stretches split where no work was sampled for the gap, idle samples or none", () => {
    // ms:      0.25 0.5  0.75 | 400 (idle) | 800 801 | a 500 ms hole | 1301
    const samples = [2, 5, 3, 7, 2, 5, 4];
    const at = [0.25, 0.5, 0.75, 400, 800, 801, 1301];
    const timeDeltas = at.map((t, i) => (t - (at[i - 1] ?? 0)) * 1000);
    const p: Profile = { nodes, samples, timeDeltas };
    expect(busySegments(p, idleNodes(p), 300)).toEqual([
      [0, 3],
      [4, 6],
      [6, 7],
    ]);
    // A gap shorter than asked for does not split.
    expect(busySegments(p, idleNodes(p), 1000)).toEqual([[0, 7]]);
  });
});
