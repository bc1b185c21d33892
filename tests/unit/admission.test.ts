/** behaviour.md §8: connections not yet logged in are capped per source address and in total. */
import { expect, test } from "bun:test";
import { Admission } from "../../src/server/admission.ts";

test("the per-address cap refuses the next connection from that address only; a login or close frees a place", () => {
  const a = new Admission({ perAddress: 2, total: 10 });
  expect(a.admit(1, "10.0.0.1")).toBeNull();
  expect(a.admit(2, "10.0.0.1")).toBeNull();
  expect(a.admit(3, "10.0.0.1")).toMatchObject({ cap: "address" });
  expect(a.admit(4, "10.0.0.2")).toBeNull();
  a.release(1); // logged in: no longer counts, however long it stays
  expect(a.admit(5, "10.0.0.1")).toBeNull();
  expect(a.admit(6, "10.0.0.1")).toMatchObject({ cap: "address" });
  a.release(2);
  a.release(2); // released twice (login, then close): counted once
  expect(a.from("10.0.0.1")).toBe(1);
  expect(a.pending).toBe(2);
});

test("the total cap refuses the next connection from anywhere; refusals do not count", () => {
  const a = new Admission({ perAddress: 5, total: 3 });
  for (let i = 1; i <= 3; i++) expect(a.admit(i, `10.0.0.${i}`)).toBeNull();
  const r = a.admit(4, "10.0.0.9");
  expect(r).toMatchObject({ cap: "total" });
  expect(r!.detail).toContain("limit 3");
  expect(a.from("10.0.0.9")).toBe(0);
  a.release(4); // never admitted: nothing to release
  expect(a.pending).toBe(3);
  a.release(2);
  expect(a.admit(5, "10.0.0.9")).toBeNull();
});

test("logged-in connections are not capped per address: a lab behind one address logs in one after another", () => {
  const a = new Admission({ perAddress: 2, total: 5 });
  for (let sid = 1; sid <= 500; sid++) {
    expect(a.admit(sid, "192.168.1.1")).toBeNull();
    a.release(sid); // logged in
  }
  expect(a.pending).toBe(0);
});
