/**
 * One-time tokens that let a callee check who is calling (behaviour.md §6): the server
 * gives the caller a token bound to (caller, callee); the callee asks the server
 * whether the token a caller presented is good. Each token works once and expires.
 *
 * What one caller can make the server hold is capped in bytes (behaviour.md §8): a caller
 * past its budget loses its own oldest outstanding tokens, never anyone else's.
 */
import { randomBytes } from "node:crypto";
import type { Clock } from "../common/clock.ts";
import type { TokenStore } from "./state.ts";

export const TOKEN_TTL_MS = 30_000;
/** Bytes of outstanding tokens one caller may hold (~100 tokens to callees with short names). */
export const MAX_TOKEN_BYTES_PER_CALLER = 32 * 1024;
/** What one grant costs, on the high side: the token string, the grant, two map entries (measured ~285 B of heap). */
const GRANT_BYTES = 320;
export const grantCost = (callee: string): number => GRANT_BYTES + 2 * callee.length;

type Grant = { caller: string; callee: string; expires: number; cost: number };
/** One caller's outstanding tokens, oldest first (a Map keeps insertion order), and their cost. */
type Mine = { tokens: Map<string, Grant>; bytes: number };

export class PeerTokens implements TokenStore {
  private grants = new Map<string, Grant>();
  private byCaller = new Map<string, Mine>();
  /** Sweep every caller's expired grants when this many are outstanding (doubles with the count). */
  private sweepAt = 1024;

  constructor(
    private readonly clock: Clock,
    private readonly maxBytesPerCaller = MAX_TOKEN_BYTES_PER_CALLER,
  ) {}

  /** Tokens outstanding, in all and for one caller (for tests and the debug log). */
  get size(): number {
    return this.grants.size;
  }
  bytesOf(caller: string): number {
    return this.byCaller.get(caller)?.bytes ?? 0;
  }

  /** A new token for `caller` to call `callee`; returns it and how many of the caller's own were evicted for it. */
  issue(caller: string, callee: string): { token: string; evicted: number } {
    if (this.grants.size >= this.sweepAt) this.sweep();
    let mine = this.byCaller.get(caller);
    if (!mine) this.byCaller.set(caller, (mine = { tokens: new Map(), bytes: 0 }));
    const cost = grantCost(callee);
    const now = this.clock.now();
    let evicted = 0;
    for (const [t, g] of mine.tokens) {
      const expired = g.expires < now;
      if (!expired && mine.bytes + cost <= this.maxBytesPerCaller) break;
      this.forget(t, g);
      if (!expired) evicted++;
    }
    this.byCaller.set(caller, mine); // forget() lets go of a caller whose last token went
    const token = randomBytes(24).toString("base64url");
    const g: Grant = { caller, callee, expires: now + TOKEN_TTL_MS, cost };
    this.grants.set(token, g);
    mine.tokens.set(token, g);
    mine.bytes += cost;
    return { token, evicted };
  }

  /** True if `token` was issued to `caller` for calling `callee`; it is spent either way. */
  redeem(token: string, caller: string, callee: string): boolean {
    const g = this.grants.get(token);
    if (!g) return false;
    this.forget(token, g);
    return g.caller === caller && g.callee === callee && this.clock.now() <= g.expires;
  }

  private forget(token: string, g: Grant): void {
    this.grants.delete(token);
    const mine = this.byCaller.get(g.caller);
    if (!mine) return;
    mine.tokens.delete(token);
    mine.bytes -= g.cost;
    if (mine.tokens.size === 0) this.byCaller.delete(g.caller);
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [t, g] of this.grants) if (g.expires < now) this.forget(t, g);
    this.sweepAt = Math.max(1024, 2 * this.grants.size);
  }
}
