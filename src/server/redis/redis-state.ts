/**
 * The shared state (state.ts) in Redis, so every server of a cluster sees one
 * lockout, one session directory and one set of peer tokens. Times are the hub's
 * injected clock; Redis's own expiry only collects garbage.
 */
import { randomBytes } from "node:crypto";
import type { Clock } from "../../common/clock.ts";
import { grantCost, MAX_TOKEN_BYTES_PER_CALLER, TOKEN_TTL_MS } from "../peertokens.ts";
import { MAX_FAILURES, type Directory, type Lockout, type SessionInfo, type TokenStore } from "../state.ts";
import { keys } from "./keys.ts";
import type { RedisCommands } from "./scripts.ts";
import { CLAIM_SESSION, ISSUE_TOKEN, LOGIN_FAILURE, LOGIN_SUCCESS, parseClaim, parseLoginFailure, parseLoginSuccess, RELEASE_SESSION } from "./scripts.ts";

export class RedisLockout implements Lockout {
  constructor(
    private readonly redis: RedisCommands,
    private readonly clock: Clock,
    private readonly blockMs: number,
  ) {}

  async isBlocked(user: string): Promise<boolean> {
    const until = await this.redis.command("GET", [keys.locked(user)]);
    return until !== null && this.clock.now() < Number(until);
  }
  async success(user: string): Promise<"ok" | "blocked"> {
    const r = await this.redis.script(LOGIN_SUCCESS, [keys.fails(user), keys.locked(user)], [String(this.clock.now())]);
    return parseLoginSuccess(r).verdict;
  }
  async failure(user: string): Promise<"bad_password" | "locked_now" | "blocked"> {
    const args = [String(this.clock.now()), String(MAX_FAILURES), String(this.blockMs), "0"];
    return parseLoginFailure(await this.redis.script(LOGIN_FAILURE, [keys.fails(user), keys.locked(user)], args)).verdict;
  }
}

/**
 * A session's holder value, "<node>|<sid>|<since>|<JSON of host, peer port, peer
 * certificate>": CLAIM_SESSION and RELEASE_SESSION compare it whole, so it is built
 * the same way from the same SessionInfo every time.
 */
export function holderOf(info: SessionInfo): string {
  const peer: { host: string; peerPort?: number; peerCert?: string } = { host: info.host };
  if (info.peerPort !== undefined) peer.peerPort = info.peerPort;
  if (info.peerCert !== undefined) peer.peerCert = info.peerCert;
  return `${encodeURIComponent(info.node)}|${info.sid}|${info.since}|${JSON.stringify(peer)}`;
}

export function parseHolder(holder: string): SessionInfo {
  const m = /^([^|]*)\|(\d+)\|(\d+)\|(.*)$/s.exec(holder);
  if (!m) throw new Error(`unreadable session holder ${JSON.stringify(holder).slice(0, 100)}`);
  const peer = JSON.parse(m[4]!) as { host: string; peerPort?: number; peerCert?: string };
  return { node: decodeURIComponent(m[1]!), sid: Number(m[2]), since: Number(m[3]), ...peer };
}

export class RedisDirectory implements Directory {
  constructor(private readonly redis: RedisCommands) {}

  async claim(user: string, info: SessionInfo, replacing?: SessionInfo): Promise<boolean> {
    const stale = replacing ? holderOf(replacing) : "";
    const r = parseClaim(await this.redis.script(CLAIM_SESSION, [keys.session(user)], [holderOf(info), stale, "0"]));
    if (!r.claimed) return false;
    const steps = [this.redis.command("SADD", [keys.online(), user]), this.redis.command("SADD", [keys.nodeUsers(info.node), user])];
    if (replacing) steps.push(this.redis.command("SREM", [keys.nodeUsers(replacing.node), user]));
    await Promise.all(steps);
    return true;
  }

  async release(user: string, info: SessionInfo, at: number): Promise<boolean> {
    if (Number(await this.redis.script(RELEASE_SESSION, [keys.session(user)], [holderOf(info)])) !== 1) return false;
    await Promise.all([
      this.redis.command("SREM", [keys.online(), user]),
      this.redis.command("SREM", [keys.nodeUsers(info.node), user]),
      this.redis.command("ZADD", [keys.lastSeen(), String(at), user]),
    ]);
    return true;
  }

  async lookup(user: string): Promise<SessionInfo | undefined> {
    const holder = await this.redis.command("GET", [keys.session(user)]);
    return typeof holder === "string" ? parseHolder(holder) : undefined;
  }

  async usersOf(node: string): Promise<string[]> {
    return members(await this.redis.command("SMEMBERS", [keys.nodeUsers(node)]));
  }

  async online(): Promise<string[]> {
    return members(await this.redis.command("SMEMBERS", [keys.online()]));
  }

  async seenSince(from: number): Promise<string[]> {
    const [now, recent] = await Promise.all([this.online(), this.redis.command("ZRANGEBYSCORE", [keys.lastSeen(), String(from), "+inf"])]);
    const out = new Set(now);
    for (const u of members(recent)) out.add(u);
    return [...out];
  }
}

/** A set or list reply as an array of names (RESP3 may answer a set as a Set). */
export function members(reply: unknown): string[] {
  if (reply instanceof Set) return [...reply] as string[];
  return Array.isArray(reply) ? (reply as string[]) : [];
}

/** Kept in Redis a while past its expiry, so the injected clock decides, not Redis's. */
const TOKEN_PX = TOKEN_TTL_MS + 60_000;

export class RedisTokens implements TokenStore {
  constructor(
    private readonly redis: RedisCommands,
    private readonly clock: Clock,
  ) {}

  async issue(caller: string, callee: string): Promise<{ token: string; evicted: number }> {
    const token = randomBytes(24).toString("base64url");
    const now = this.clock.now();
    const expires = now + TOKEN_TTL_MS;
    // The byte budget of peertokens.ts, as a count of grants of this size.
    const max = Math.max(1, Math.floor(MAX_TOKEN_BYTES_PER_CALLER / grantCost(callee)));
    const value = `${encodeURIComponent(caller)}|${encodeURIComponent(callee)}|${expires}`;
    // An evicted token's key is `before + token + after` (tokens are base64url: encoded as they are).
    const empty = keys.token("");
    const before = empty.slice(0, empty.indexOf("}"));
    const after = empty.slice(before.length);
    const args = [String(now), String(expires), String(max), value, String(TOKEN_PX), token, before, after];
    const evicted = Number(await this.redis.script(ISSUE_TOKEN, [keys.tokensOf(caller), keys.token(token)], args));
    return { token, evicted };
  }

  async redeem(token: string, caller: string, callee: string): Promise<boolean> {
    const v = await this.redis.command("GETDEL", [keys.token(token)]);
    if (typeof v !== "string") return false;
    const [c, d, expires] = v.split("|");
    const owner = decodeURIComponent(c!);
    void this.redis.command("ZREM", [keys.tokensOf(owner), token]).catch(() => {}); // tidying only
    return owner === caller && decodeURIComponent(d!) === callee && this.clock.now() <= Number(expires);
  }
}
