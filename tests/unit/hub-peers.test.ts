/** The hub (src/server/hub.ts): peer_request and peer_check (the callee's address and one-use tokens for peer links), and the bound on the token table. */
import { describe, expect, test } from "bun:test";
import { TOKEN_TTL_MS } from "../../src/server/peertokens.ts";
import { checkedBenches } from "./hubkit.ts";

const bench = checkedBenches();

describe("peer_request and peer_check", () => {
  function peers() {
    const b = bench();
    const h = b.online("hans", { host: "10.0.0.1", peerPort: 5000 });
    const y = b.online("yoda", { host: "10.0.0.2", peerPort: 6000 });
    const l = b.online("luke", { host: "10.0.0.3", peerPort: 7000 });
    for (const s of [h, y, l]) b.out.take(s);
    return { b, h, y, l };
  }
  const token = (r: { token?: string }) => {
    expect(typeof r.token).toBe("string");
    return r.token!;
  };

  test("invalid_user, self, offline", () => {
    const { b, h } = peers();
    expect(b.ask(h, { t: "peer_request", user: "nobody" })).toEqual({ code: "invalid_user", user: "nobody" });
    expect(b.ask(h, { t: "peer_request", user: "hans" })).toEqual({ code: "self", user: "hans" });
    expect(b.ask(h, { t: "peer_request", user: "r2d2" })).toEqual({ code: "offline", user: "r2d2" });
  });

  test("a user online without a peer port is offline for peering", () => {
    const { b, h } = peers();
    b.online("vader");
    b.out.take(h);
    expect(b.ask(h, { t: "peer_request", user: "vader" })).toEqual({ code: "offline", user: "vader" });
  });

  test("blocked_you, with no address or token given out", () => {
    const { b, h, y } = peers();
    b.ask(y, { t: "block", user: "hans" });
    expect(b.ask(h, { t: "peer_request", user: "yoda" })).toEqual({ code: "blocked_you", user: "yoda" });
    b.quiet(y);
  });

  test("peer: the address as the server saw it, the peer port from login, and a fresh token", () => {
    const { b, h, y } = peers();
    const r = b.ask(h, { t: "peer_request", user: "yoda" });
    const t1 = token(r);
    expect(r).toEqual({ code: "peer", user: "yoda", host: "10.0.0.2", port: 6000, token: t1 });
    expect(t1.length).toBeGreaterThanOrEqual(16);
    const t2 = token(b.ask(h, { t: "peer_request", user: "yoda" }));
    expect(t2).not.toBe(t1);
    b.quiet(y); // the callee is not told until the caller connects
  });

  test("peer_check: token_ok once for the right caller and callee, then token_bad on replay", () => {
    const { b, h, y } = peers();
    const t = token(b.ask(h, { t: "peer_request", user: "yoda" }));
    expect(b.ask(y, { t: "peer_check", user: "hans", token: t })).toEqual({ code: "token_ok", user: "hans" });
    expect(b.ask(y, { t: "peer_check", user: "hans", token: t })).toEqual({ code: "token_bad", user: "hans" });
  });

  test("peer_check: a wrong caller name gets token_bad and spends the token", () => {
    const { b, h, y } = peers();
    const t = token(b.ask(h, { t: "peer_request", user: "yoda" }));
    expect(b.ask(y, { t: "peer_check", user: "luke", token: t })).toEqual({ code: "token_bad", user: "luke" });
    expect(b.ask(y, { t: "peer_check", user: "hans", token: t })).toEqual({ code: "token_bad", user: "hans" });
  });

  test("peer_check: a token issued for another callee is token_bad", () => {
    const { b, h, l } = peers();
    const t = token(b.ask(h, { t: "peer_request", user: "yoda" }));
    expect(b.ask(l, { t: "peer_check", user: "hans", token: t })).toEqual({ code: "token_bad", user: "hans" });
  });

  test("peer_check: an unknown token is token_bad", () => {
    const { b, y } = peers();
    expect(b.ask(y, { t: "peer_check", user: "hans", token: "made-up" })).toEqual({ code: "token_bad", user: "hans" });
    expect(b.ask(y, { t: "peer_check", user: "hans", token: "" })).toEqual({ code: "token_bad", user: "hans" });
  });

  test("peer_check: a token is good up to TOKEN_TTL_MS after issue, not after", () => {
    const { b, h, y } = peers();
    const early = token(b.ask(h, { t: "peer_request", user: "yoda" }));
    const late = token(b.ask(h, { t: "peer_request", user: "yoda" }));
    b.clock.advance(TOKEN_TTL_MS);
    expect(b.ask(y, { t: "peer_check", user: "hans", token: early })).toEqual({ code: "token_ok", user: "hans" });
    b.clock.advance(1);
    expect(b.ask(y, { t: "peer_check", user: "hans", token: late })).toEqual({ code: "token_bad", user: "hans" });
  });
});
