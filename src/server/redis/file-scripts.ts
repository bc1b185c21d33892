/**
 * The file registry's atomic steps (files.ts rules and cost model, in Lua). They
 * touch a file's keys, the user's keys and the global byte count together: several
 * hash slots, so they need a single Redis (not a Redis Cluster) — see docs/scaling.md.
 */
import type { Script } from "./scripts.ts";

/**
 * `user` registers file `name` (mode "register") or announces more chunks of it
 * (mode "have"), within the byte caps. KEYS[1] file meta, KEYS[2] file holders,
 * KEYS[3] the user's file set, KEYS[4] the user's bytes, KEYS[5] all bytes.
 * ARGV[1] user, ARGV[2] the file's tag (its name, encoded as in its keys), ARGV[3]
 * mode, ARGV[4] meta JSON {size,hashes} (register), ARGV[5] chunks JSON, ARGV[6] the
 * file's cost, ARGV[7] max bytes, ARGV[8] max bytes per user, ARGV[9] cost of a
 * holder, ARGV[10] cost of a held chunk.
 * Reply {"new"} | {"same"} | {"ok"} | {"conflict", meta JSON} | {"not_found"} | {"bad"} | {"full", why}.
 */
export const ADD_HOLDING: Script = {
  name: "add_holding",
  numKeys: 5,
  source: `
local meta = redis.call('HGET', KEYS[1], 'h')
local chunks = cjson.decode(ARGV[5])
local new = false
local cost
if ARGV[3] == 'have' then
  if not meta then return {'not_found'} end
  local n = #cjson.decode(meta).hashes
  for _, c in ipairs(chunks) do if c > n then return {'bad'} end end
  cost = tonumber(redis.call('HGET', KEYS[1], 'c'))
elseif meta then
  if meta ~= ARGV[4] then return {'conflict', meta} end
  cost = tonumber(redis.call('HGET', KEYS[1], 'c'))
else
  new = true
  cost = tonumber(ARGV[6])
end
local heldJson = redis.call('HGET', KEYS[2], ARGV[1])
local held = {}
if heldJson then for _, c in ipairs(cjson.decode(heldJson)) do held[c] = true end end
local added = 0
for _, c in ipairs(chunks) do
  if not held[c] then held[c] = true; added = added + 1 end
end
local globalCost = added * tonumber(ARGV[10])
local userCost = globalCost
if not heldJson then
  globalCost = globalCost + tonumber(ARGV[9])
  userCost = globalCost + cost
end
if new then globalCost = globalCost + cost end
local total = tonumber(redis.call('GET', KEYS[5]) or '0')
local mine = tonumber(redis.call('GET', KEYS[4]) or '0')
if total + globalCost > tonumber(ARGV[7]) or mine + userCost > tonumber(ARGV[8]) then
  return {'full', string.format('registry full (user at %d of %s bytes, all at %d of %s)', mine, ARGV[8], total, ARGV[7])}
end
if new then redis.call('HSET', KEYS[1], 'h', ARGV[4], 'c', ARGV[6]) end
local list = {}
for c in pairs(held) do list[#list + 1] = c end
table.sort(list)
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(list))
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('INCRBY', KEYS[4], userCost)
redis.call('INCRBY', KEYS[5], globalCost)
if new then return {'new'} end
if ARGV[3] == 'have' then return {'ok'} end
return {'same'}`,
};

/**
 * `user` went offline: they hold nothing; files nobody holds any more are forgotten.
 * KEYS[1] the user's file set, KEYS[2] the user's bytes, KEYS[3] all bytes. ARGV[1]
 * user, ARGV[2] what goes before a file's tag in its keys, ARGV[3] / ARGV[4] what
 * goes after it in its meta / holders key, ARGV[5] cost of a holder, ARGV[6] of a
 * held chunk. Reply: bytes given back.
 */
export const DROP_HOLDINGS: Script = {
  name: "drop_holdings",
  numKeys: 3,
  source: `
local freed = 0
for _, t in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local mk = ARGV[2] .. t .. ARGV[3]
  local hk = ARGV[2] .. t .. ARGV[4]
  local heldJson = redis.call('HGET', hk, ARGV[1])
  if heldJson then
    freed = freed + tonumber(ARGV[5]) + #cjson.decode(heldJson) * tonumber(ARGV[6])
    redis.call('HDEL', hk, ARGV[1])
    if redis.call('HLEN', hk) == 0 then
      freed = freed + tonumber(redis.call('HGET', mk, 'c') or '0')
      redis.call('DEL', mk)
    end
  end
end
redis.call('DEL', KEYS[1], KEYS[2])
if freed > 0 then redis.call('DECRBY', KEYS[3], freed) end
return freed`,
};
