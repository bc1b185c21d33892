/** The progress line's redraw throttle (src/client/throttle.ts) on a manual clock. */
import { expect, test } from "bun:test";
import { ManualClock } from "../../../src/common/clock.ts";
import { Throttle } from "../../../src/client/throttle.ts";

test("first request runs at once; requests inside the interval run once, when it is over", () => {
  const clock = new ManualClock();
  let runs = 0;
  const t = new Throttle(clock, 100, () => runs++);
  t.request();
  expect(runs).toBe(1);
  clock.advance(30);
  t.request();
  t.request();
  clock.advance(69);
  expect(runs).toBe(1);
  clock.advance(1);
  expect(runs).toBe(2);
  clock.advance(500);
  expect(runs).toBe(2);
  t.request();
  expect(runs).toBe(3);
});

test("cancel forgets a run that is due", () => {
  const clock = new ManualClock();
  let runs = 0;
  const t = new Throttle(clock, 100, () => runs++);
  t.request();
  t.request();
  t.cancel();
  clock.advance(1000);
  expect(runs).toBe(1);
});
