/**
 * behaviour.md §8: outstanding peer tokens are capped in bytes per caller; a caller's flood
 * evicts only that caller's own oldest tokens, never anyone else's.
 */
import { describe, expect, test } from "bun:test";
import { ManualClock } from "../../src/common/clock.ts";
import { grantCost, MAX_TOKEN_BYTES_PER_CALLER, PeerTokens, TOKEN_TTL_MS } from "../../src/server/peertokens.ts";

describe("peer tokens per caller", () => {
  test("a flood of 200 000 grants by one caller keeps that caller within its byte budget, and others' tokens work", () => {
    const tokens = new PeerTokens(new ManualClock());
    const others = ["hans", "luke", "yoda"].map((u) => ({ u, t: tokens.issue(u, "vader").token }));
    let evicted = 0;
    for (let i = 0; i < 200_000; i++) evicted += tokens.issue("mallory", "vader").evicted;
    const per = Math.floor(MAX_TOKEN_BYTES_PER_CALLER / grantCost("vader"));
    expect(tokens.bytesOf("mallory")).toBeLessThanOrEqual(MAX_TOKEN_BYTES_PER_CALLER);
    expect(tokens.size).toBe(per + others.length);
    expect(evicted).toBe(200_000 - per);
    for (const { u, t } of others) expect(tokens.redeem(t, u, "vader")).toBe(true);
  });

  test("the caller's oldest goes first; its newest still work", () => {
    const tokens = new PeerTokens(new ManualClock(), 3 * grantCost("b"));
    const t = [1, 2, 3, 4].map(() => tokens.issue("a", "b"));
    expect(t.map((x) => x.evicted)).toEqual([0, 0, 0, 1]);
    expect(tokens.redeem(t[0]!.token, "a", "b")).toBe(false);
    for (const x of t.slice(1)) expect(tokens.redeem(x.token, "a", "b")).toBe(true);
    expect(tokens.bytesOf("a")).toBe(0);
    expect(tokens.size).toBe(0);
  });

  test("the budget is in bytes: a callee with a long name costs more tokens' worth", () => {
    const long = "x".repeat(2000);
    const tokens = new PeerTokens(new ManualClock());
    for (let i = 0; i < 100; i++) tokens.issue("a", long);
    expect(tokens.size).toBe(Math.floor(MAX_TOKEN_BYTES_PER_CALLER / grantCost(long)));
    expect(tokens.bytesOf("a")).toBeLessThanOrEqual(MAX_TOKEN_BYTES_PER_CALLER);
  });

  test("expired tokens are not counted: a caller's own are dropped when it asks again, everyone's in a sweep", () => {
    const clock = new ManualClock();
    const tokens = new PeerTokens(clock);
    for (let i = 0; i < 50; i++) tokens.issue("a", "b");
    for (let i = 0; i < 2000; i++) tokens.issue(`u${i}`, "b");
    clock.advance(TOKEN_TTL_MS + 1);
    const fresh = tokens.issue("a", "b");
    expect(fresh.evicted).toBe(0); // expired ones are not evictions
    expect(tokens.bytesOf("a")).toBe(grantCost("b"));
    // the others' expired grants go at the next sweep (when the count reaches its mark)
    for (let i = 0; i < 3000; i++) tokens.issue(`v${i}`, "b");
    expect(tokens.size).toBe(1 + 3000); // without the sweep: 2000 more
    expect(tokens.bytesOf("u1")).toBe(0);
    expect(tokens.redeem(fresh.token, "a", "b")).toBe(true);
  });

  test("a token is spent once, bound to (caller, callee), and expires", () => {
    const clock = new ManualClock();
    const tokens = new PeerTokens(clock);
    const t = tokens.issue("a", "b").token;
    expect(tokens.redeem(t, "a", "c")).toBe(false);
    expect(tokens.redeem(t, "a", "b")).toBe(false); // spent by the mis-bound attempt
    const u = tokens.issue("a", "b").token;
    clock.advance(TOKEN_TTL_MS + 1);
    expect(tokens.redeem(u, "a", "b")).toBe(false);
    expect(tokens.bytesOf("a")).toBe(0);
  });
});
