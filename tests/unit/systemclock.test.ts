/**
 * systemClock's timers: one runtime timer under a heap of entries (see clock.ts).
 * Real time, short delays. Where the order is checked, a timer set before another
 * that should fire after it is set well after it (150 ms against 10): on a loaded
 * machine the thread can stall for over 10 ms between two calls, and the later
 * call's deadline is then rightly the later one.
 */
import { expect, test } from "bun:test";
import { systemClock } from "../../src/common/clock.ts";

test("fires by deadline, then in creation order; cancelled ones never", async () => {
  const got: string[] = [];
  systemClock.after(150, () => got.push("c"));
  systemClock.after(10, () => got.push("a1"));
  systemClock.after(10, () => got.push("a2"));
  const x = systemClock.after(20, () => got.push("x"));
  systemClock.after(20, () => got.push("b"));
  x.cancel();
  x.cancel();
  await Bun.sleep(220);
  expect(got).toEqual(["a1", "a2", "b", "c"]);
});

test("a timer set from a callback, earlier than the rest, fires first", async () => {
  const got: string[] = [];
  const t0 = Date.now();
  systemClock.after(300, () => got.push("late"));
  systemClock.after(5, () => systemClock.after(5, () => got.push(`inner@${Date.now() - t0 >= 10}`)));
  await Bun.sleep(400);
  expect(got).toEqual(["inner@true", "late"]);
});

test("never early; many cancelled timers are compacted without losing live ones", async () => {
  const t0 = Date.now();
  let firedAt = 0;
  const dead = Array.from({ length: 5000 }, () => systemClock.after(60_000, () => {}));
  for (const d of dead) d.cancel();
  systemClock.after(25, () => (firedAt = Date.now()));
  const more = Array.from({ length: 3000 }, () => systemClock.after(60_000, () => {}));
  for (const d of more) d.cancel();
  await Bun.sleep(60);
  expect(firedAt - t0).toBeGreaterThanOrEqual(25);
});

test("one function for many timers: each fires with its own arg; a cancelled one never", async () => {
  const got: string[] = [];
  const fn = (who: string) => got.push(who);
  systemClock.after(150, fn, "b");
  systemClock.after(10, fn, "a");
  systemClock.after(15, fn, "x").cancel();
  await Bun.sleep(220);
  expect(got).toEqual(["a", "b"]);
});
