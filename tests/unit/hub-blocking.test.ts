/** The hub (src/server/hub.ts): every reply code of block and unblock, and delivery once unblocked. */
import { describe, expect, test } from "bun:test";
import { checkedBenches, msg } from "./hubkit.ts";

const bench = checkedBenches();

describe("block and unblock", () => {
  test("every reply code of block", () => {
    const b = bench();
    const h = b.online("hans");
    const y = b.online("yoda");
    b.out.take(h);
    expect(b.ask(h, { t: "block", user: "hans" })).toEqual({ code: "self" });
    expect(b.ask(h, { t: "block", user: "nobody" })).toEqual({ code: "invalid_user" });
    expect(b.ask(h, { t: "block", user: "yoda" })).toEqual({ code: "ok", user: "yoda" });
    expect(b.ask(h, { t: "block", user: "yoda" })).toEqual({ code: "already", user: "yoda" });
    expect(b.ask(h, { t: "block", user: "r2d2" })).toEqual({ code: "ok", user: "r2d2" }); // offline is fine
    b.quiet(y); // the blocked user is never told
    expect(b.store.blocks.has("hans", "yoda")).toBe(true);
    expect(b.store.blocks.has("yoda", "hans")).toBe(false);
  });

  test("every reply code of unblock, and delivery resumes", () => {
    const b = bench();
    const h = b.online("hans");
    const y = b.online("yoda");
    b.out.take(h);
    expect(b.ask(h, { t: "unblock", user: "hans" })).toEqual({ code: "self" });
    expect(b.ask(h, { t: "unblock", user: "nobody" })).toEqual({ code: "invalid_user" });
    expect(b.ask(h, { t: "unblock", user: "yoda" })).toEqual({ code: "not_blocked", user: "yoda" });
    b.ask(h, { t: "block", user: "yoda" });
    expect(b.ask(y, { t: "message", to: "hans", text: "1" })).toEqual({ code: "blocked_you" });
    expect(b.ask(h, { t: "unblock", user: "yoda" })).toEqual({ code: "ok", user: "yoda" });
    expect(b.ask(h, { t: "unblock", user: "yoda" })).toEqual({ code: "not_blocked", user: "yoda" });
    b.quiet(y);
    expect(b.ask(y, { t: "message", to: "hans", text: "2" })).toEqual({ code: "ok" });
    expect(b.out.take(h)).toEqual([msg("yoda", "2", "direct")]);
  });
});
