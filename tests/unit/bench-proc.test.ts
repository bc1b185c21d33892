/** The bench's CPU meter (bench/lib/proc.ts): schedstat parsing, per-thread differences, and a live reading. */
import { expect, test } from "bun:test";
import { cpuMsBetween, cpuMsOf, markCpu, parseSchedstat, threadCpuNs } from "../../bench/lib/proc.ts";

test("parseSchedstat takes the first field (ns on a CPU)", () => {
  expect(parseSchedstat("25213724 2603300 67\n")).toBe(25213724);
  expect(parseSchedstat("0 0 0\n")).toBe(0);
  expect(parseSchedstat("")).toBeNull();
  expect(parseSchedstat("garbage here")).toBeNull();
});

test("cpuMsBetween: differences per thread, new threads in full, ended ones not taken off", () => {
  const before = new Map([
    ["1", 5_000_000],
    ["2", 9_000_000],
  ]);
  const after = new Map([
    ["1", 7_500_000], // +2.5 ms
    ["3", 1_000_000], // new: +1 ms; thread 2 ended (its 9 ms before are not subtracted)
  ]);
  expect(cpuMsBetween(before, after)).toBe(3.5);
  // A thread id reused by a newer thread with less time than the old one had.
  expect(cpuMsBetween(new Map([["4", 8_000_000]]), new Map([["4", 2_000_000]]))).toBe(2);
});

test("this process's CPU grows by about what it spent, and the main thread is seen", () => {
  const threads = threadCpuNs(process.pid);
  expect(threads).not.toBeNull();
  expect(threads!.has(String(process.pid))).toBe(true);
  const since = markCpu(process.pid);
  const total0 = cpuMsOf(process.pid);
  const u0 = process.cpuUsage();
  let x = 0;
  while ((process.cpuUsage(u0).user + process.cpuUsage(u0).system) / 1000 < 60) x += Math.sqrt(x + 1);
  expect(x).toBeGreaterThan(0);
  // 60 ms spent; a reading may lag a running thread by one scheduler tick (≤ 10 ms).
  expect(since()).toBeGreaterThan(40);
  expect(cpuMsOf(process.pid) - total0).toBeGreaterThan(40);
  expect(cpuMsOf(2 ** 22 + 12345)).toBe(0); // no such process
});
