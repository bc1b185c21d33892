/**
 * The cluster's atomic steps, as Lua scripts Redis runs whole (nothing else runs
 * in between): each touches only keys of ONE user (one hash tag, see keys.ts), so
 * they also run on a Redis Cluster. Times are the caller's clock (the hub's injected
 * clock), passed in ARGV; Redis's own expiry (PX) only collects garbage.
 *
 * Replies are decoded by the parse* functions below, so callers get types, not
 * Lua tables. Lua notes that matter here: `false` comes back as null, a table
 * stops at its first nil, and numbers are doubles whose `..` rendering turns
 * 1e14 into "1e+14" — hence string.format('%d') wherever a number becomes text.
 */

/** One script: its source, how many KEYS it takes, and what it is for. */
export type Script = { readonly name: string; readonly source: string; readonly numKeys: number };

/**
 * Claim the user's session for this node.
 * KEYS[1] session key. ARGV[1] holder "<node>|<sid>|<since>", ARGV[2] the holder we
 * found stale (its node is dead) or "", ARGV[3] ttl ms ("0": none).
 * Takes the key when it is free, or when it still holds exactly the stale holder
 * (compare-and-set: two nodes taking over the same stale session cannot both win).
 * Reply {1, ours} or {0, current holder}.
 */
export const CLAIM_SESSION: Script = {
  name: "claim_session",
  numKeys: 1,
  source: `
local cur = redis.call('GET', KEYS[1])
if cur == false or (ARGV[2] ~= '' and cur == ARGV[2]) then
  if tonumber(ARGV[3]) > 0 then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  else
    redis.call('SET', KEYS[1], ARGV[1])
  end
  return {1, ARGV[1]}
end
return {0, cur}`,
};

/**
 * Let go of the session only if it is still ours (a node that lost Redis for a
 * while must not delete a session another node has since taken over).
 * KEYS[1] session key. ARGV[1] our holder value. Reply 1 released, 0 not ours.
 */
export const RELEASE_SESSION: Script = {
  name: "release_session",
  numKeys: 1,
  source: `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`,
};

/**
 * A wrong password (behaviour.md §3: the count belongs to the username; the 3rd consecutive
 * failure blocks the account for block_duration).
 * KEYS[1] fails, KEYS[2] locked. ARGV[1] now ms, ARGV[2] max failures, ARGV[3] block ms,
 * ARGV[4] ttl ms for the failure count ("0": kept until a success or a lockout).
 * Reply {"blocked", ms left} | {"locked_now", block ms} | {"bad_password", failures so far}.
 */
export const LOGIN_FAILURE: Script = {
  name: "login_failure",
  numKeys: 2,
  source: `
local now = tonumber(ARGV[1])
local untilMs = tonumber(redis.call('GET', KEYS[2]) or '0')
if now < untilMs then return {'blocked', untilMs - now} end
local n = redis.call('INCR', KEYS[1])
if n >= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  local block = tonumber(ARGV[3])
  if block > 0 then
    redis.call('SET', KEYS[2], string.format('%d', now + block), 'PX', string.format('%d', block))
  end
  return {'locked_now', block}
end
if tonumber(ARGV[4]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return {'bad_password', n}`,
};

/**
 * A right password: refused while the account is blocked, else the failure count
 * is reset. KEYS[1] fails, KEYS[2] locked. ARGV[1] now ms.
 * Reply {"blocked", ms left} | {"ok", 0}.
 */
export const LOGIN_SUCCESS: Script = {
  name: "login_success",
  numKeys: 2,
  source: `
local now = tonumber(ARGV[1])
local untilMs = tonumber(redis.call('GET', KEYS[2]) or '0')
if now < untilMs then return {'blocked', untilMs - now} end
redis.call('DEL', KEYS[1])
return {'ok', 0}`,
};

/**
 * Store an offline message. KEYS[1] mailbox stream, KEYS[2] seq counter.
 * ARGV[1] the message (JSON), ARGV[2] the most messages one mailbox may hold.
 * Reply: the message's seq (> every seq given before for this user), or 0 when the
 * mailbox is full (nothing stored, the counter untouched).
 */
export const MAILBOX_APPEND: Script = {
  name: "mailbox_append",
  numKeys: 2,
  source: `
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], string.format('%d-0', seq), 'm', ARGV[1])
return seq`,
};

/**
 * The client acknowledged every message up to a seq: delete them. KEYS[1] mailbox.
 * ARGV[1] upTo. An emptied stream is deleted in the same step (a separate DEL could
 * remove a message appended in between). Reply: how many were deleted.
 */
export const MAILBOX_ACK: Script = {
  name: "mailbox_ack",
  numKeys: 1,
  source: `
local removed = redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d-0', tonumber(ARGV[1]) + 1))
if redis.call('XLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
return removed`,
};

/**
 * Where a message to a user goes, in one round trip (both keys are the recipient's).
 * KEYS[1] the recipient's session, KEYS[2] whom the recipient blocks. ARGV[1] sender.
 * Reply {holder or "" when offline, 1 if the recipient blocks the sender else 0}.
 */
export const LOOKUP_RECIPIENT: Script = {
  name: "lookup_recipient",
  numKeys: 2,
  source: `
return {redis.call('GET', KEYS[1]) or '', redis.call('SISMEMBER', KEYS[2], ARGV[1])}`,
};

/**
 * Issue a peer token within the caller's budget (behaviour.md §8: a caller past it loses
 * its own oldest tokens, never anyone else's). KEYS[1] the caller's token set
 * (sorted by expiry), KEYS[2] the new token's key. ARGV[1] now ms, ARGV[2] the new
 * token's expiry ms, ARGV[3] most tokens the caller may hold, ARGV[4] the token's
 * value, ARGV[5] its PX, ARGV[6] the token, ARGV[7]/ARGV[8] what goes before/after a
 * token to make its key (evicted tokens' keys are deleted: single Redis only, they
 * are in other slots). Reply: how many unexpired tokens were evicted.
 */
export const ISSUE_TOKEN: Script = {
  name: "issue_token",
  numKeys: 2,
  source: `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local evicted = 0
while redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) do
  local oldest = redis.call('ZPOPMIN', KEYS[1])
  redis.call('DEL', ARGV[7] .. oldest[1] .. ARGV[8])
  evicted = evicted + 1
end
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[5])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return evicted`,
};

export const ALL_SCRIPTS: readonly Script[] = [
  CLAIM_SESSION,
  RELEASE_SESSION,
  LOGIN_FAILURE,
  LOGIN_SUCCESS,
  MAILBOX_APPEND,
  MAILBOX_ACK,
  LOOKUP_RECIPIENT,
  ISSUE_TOKEN,
];

export type ClaimReply = { claimed: true } | { claimed: false; holder: string };
export function parseClaim(reply: unknown): ClaimReply {
  const [ok, holder] = expectTuple(reply, "claim_session");
  return ok === 1 ? { claimed: true } : { claimed: false, holder: String(holder) };
}

export type LoginFailureReply =
  | { verdict: "blocked"; msLeft: number }
  | { verdict: "locked_now"; blockMs: number }
  | { verdict: "bad_password"; failures: number };
export function parseLoginFailure(reply: unknown): LoginFailureReply {
  const [verdict, n] = expectTuple(reply, "login_failure");
  if (verdict === "blocked") return { verdict, msLeft: Number(n) };
  if (verdict === "locked_now") return { verdict, blockMs: Number(n) };
  if (verdict === "bad_password") return { verdict, failures: Number(n) };
  throw new Error(`login_failure: unexpected reply ${JSON.stringify(reply)}`);
}

export type LoginSuccessReply = { verdict: "ok" } | { verdict: "blocked"; msLeft: number };
export function parseLoginSuccess(reply: unknown): LoginSuccessReply {
  const [verdict, n] = expectTuple(reply, "login_success");
  if (verdict === "ok") return { verdict };
  if (verdict === "blocked") return { verdict, msLeft: Number(n) };
  throw new Error(`login_success: unexpected reply ${JSON.stringify(reply)}`);
}

export type RecipientReply = { holder: string | null; blocksSender: boolean };
export function parseRecipient(reply: unknown): RecipientReply {
  const [holder, blocked] = expectTuple(reply, "lookup_recipient");
  if (typeof holder !== "string" || (blocked !== 0 && blocked !== 1)) {
    throw new Error(`lookup_recipient: unexpected reply ${JSON.stringify(reply)}`);
  }
  return { holder: holder === "" ? null : holder, blocksSender: blocked === 1 };
}

function expectTuple(reply: unknown, name: string): [unknown, unknown] {
  if (!Array.isArray(reply) || reply.length !== 2) throw new Error(`${name}: unexpected reply ${JSON.stringify(reply)}`);
  return [reply[0], reply[1]];
}

/** What running a script needs from a connection: Bun's RedisClient.send fits. */
export type CommandSender = { send(command: string, args: string[]): Promise<unknown> };

/** What the Redis stores need from a connection (the cluster's RedisLink fits). */
export type RedisCommands = {
  command(name: string, args: string[]): Promise<unknown>;
  script(script: Script, keys: string[], args: string[]): Promise<unknown>;
};

/** SHA-1 of a script's source, as Redis names it (EVALSHA). */
export function scriptSha(script: Script): string {
  return new Bun.CryptoHasher("sha1").update(script.source).digest("hex");
}

/**
 * Run a script by its SHA; when Redis does not know it (NOSCRIPT: first use, or
 * Redis restarted — its script cache is not persisted), send the source once with
 * EVAL, which also caches it. Nothing runs twice: NOSCRIPT means it did not run.
 */
export async function runScript(conn: CommandSender, script: Script, keys: string[], args: string[]): Promise<unknown> {
  if (keys.length !== script.numKeys) throw new Error(`${script.name} takes ${script.numKeys} keys, got ${keys.length}`);
  const rest = [String(keys.length), ...keys, ...args];
  try {
    return await conn.send("EVALSHA", [scriptSha(script), ...rest]);
  } catch (e) {
    if (!(e instanceof Error) || !e.message.startsWith("NOSCRIPT")) throw e;
    return conn.send("EVAL", [script.source, ...rest]);
  }
}
