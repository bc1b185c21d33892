/**
 * One-time tokens that let a callee check who is calling (SPEC §6): the server
 * gives the caller a token bound to (caller, callee); the callee asks the server
 * whether the token a caller presented is good. Each token works once and expires.
 */
import { randomBytes } from "node:crypto";
import type { Clock } from "../common/clock.ts";

export const TOKEN_TTL_MS = 30_000;
export const MAX_TOKENS = 100_000;

type Grant = { caller: string; callee: string; expires: number };

export class PeerTokens {
  private grants = new Map<string, Grant>();
  constructor(private readonly clock: Clock) {}

  issue(caller: string, callee: string): string {
    if (this.grants.size >= MAX_TOKENS) this.sweep();
    // Still full (a flood within one TTL): forget the oldest grant (Map keeps insertion order).
    if (this.grants.size >= MAX_TOKENS) this.grants.delete(this.grants.keys().next().value!);
    const token = randomBytes(24).toString("base64url");
    this.grants.set(token, { caller, callee, expires: this.clock.now() + TOKEN_TTL_MS });
    return token;
  }

  /** True if `token` was issued to `caller` for calling `callee`; it is spent either way. */
  redeem(token: string, caller: string, callee: string): boolean {
    const g = this.grants.get(token);
    if (!g) return false;
    this.grants.delete(token);
    return g.caller === caller && g.callee === callee && this.clock.now() <= g.expires;
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [t, g] of this.grants) if (g.expires < now) this.grants.delete(t);
  }
}
