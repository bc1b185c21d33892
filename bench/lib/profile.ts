/**
 * Reading a `bun --cpu-prof` profile (the Chrome DevTools .cpuprofile format): the
 * busy stretches of its timeline, and per function the time of the samples taken
 * in one stretch, self (the function on top of the stack) and inclusive (the
 * function anywhere on the stack: it and what it called).
 *
 * Self time alone spreads a subsystem over dozens of small functions; the
 * inclusive view shows what a whole path costs (the login rules, a notice
 * window's end, the socket writes) and can be set beside another program's.
 */

export type ProfileNode = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] };
export type Profile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };

/** Nodes where no JavaScript runs. (The garbage collector's samples are not among them: it is work.) */
const IDLE = /^\((idle|program|root)\)$/;

export function idleNodes(p: Profile): Set<number> {
  return new Set(p.nodes.filter((n) => IDLE.test(n.callFrame.functionName)).map((n) => n.id));
}

/** Stretches of the timeline (sample index ranges) where the process was busy, split at idle gaps ≥ gapMs. */
export function busySegments(p: Profile, idleIds: Set<number>, gapMs: number): [number, number][] {
  const segs: [number, number][] = [];
  let t = 0;
  let start = -1;
  let lastBusy = -Infinity;
  let lastBusyIdx = -1;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]! / 1000;
    // A gap in time between samples (the sampler sleeps while the thread waits) is idle too.
    const busy = !idleIds.has(p.samples[i]!);
    if (!busy) continue;
    if (start < 0 || t - lastBusy >= gapMs) {
      if (start >= 0) segs.push([start, lastBusyIdx + 1]);
      start = i;
    }
    lastBusy = t;
    lastBusyIdx = i;
  }
  if (start >= 0) segs.push([start, lastBusyIdx + 1]);
  return segs;
}

/** A function as the tables print it: name, the last two parts of its file, its line. */
export function functionName(n: ProfileNode): string {
  return `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.split("/").slice(-2).join("/")}:${n.callFrame.lineNumber + 1}`;
}

export type Tally = {
  /** ms of busy samples in the range. */
  total: number;
  /** ms per function on top of the stack. */
  self: Map<string, number>;
  /** ms per function anywhere on the stack, counted once per sample (a recursive call is not counted twice). */
  inclusive: Map<string, number>;
};

/**
 * The busy samples in the index ranges [from, to) of p.samples, each standing for
 * one sampling interval of `sampleMs` (the delta before a sample after an idle gap
 * is the gap, not work).
 */
export function tally(p: Profile, ranges: readonly (readonly [number, number])[], sampleMs: number): Tally {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const idle = idleNodes(p);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  for (const [from, to] of ranges) for (let i = from; i < to; i++) {
    const id = p.samples[i]!;
    if (idle.has(id)) continue;
    total += sampleMs;
    const top = functionName(byId.get(id)!);
    self.set(top, (self.get(top) ?? 0) + sampleMs);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at)!;
      // The root is on every stack: it says nothing.
      if (IDLE.test(node.callFrame.functionName)) continue;
      const k = functionName(node);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + sampleMs);
    }
  }
  return { total, self, inclusive };
}

/** The `top` largest entries of a tally's map as table lines: share of the total, ms, function. */
export function tableLines(m: Map<string, number>, total: number, top: number): string[] {
  return [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)} %  ${v.toFixed(1).padStart(7)} ms  ${k}`);
}
