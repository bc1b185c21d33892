/**
 * The bus's keys and atomic steps. All keys of one node share the hash tag
 * `{n:<id>}` (built from keys.ts's `nodeAlive` so the spelling lives in one place),
 * so each script below touches one slot and would run on a Redis Cluster too.
 *
 * Per node X:
 * - `tc:{n:X}:alive`  string + PX: X's heartbeat (BEAT).
 * - `tc:{n:X}:gone`   string + PX (a day): X is fenced — declared dead or left. Set
 *   atomically with the check that `alive` is absent (REAP_CLAIM), so a node judged
 *   dead can never beat again (BEAT refuses) nor receive (SEND refuses): the verdict
 *   is final, and the reaper sees every entry that will ever reach X's inbox.
 * - `tc:{n:X}:reaper` string + PX: which node is cleaning up after X (a lock; when it
 *   expires unfinished, another node takes over).
 * - `tc:{n:X}:inbox`  stream: events sent to X (SEND), trimmed by X as it reads.
 * - `tc:{n:X}:users`  set: the hub's record of X's users (deleted with X).
 */
import { keys } from "../redis/keys.ts";
import type { Script } from "../redis/scripts.ts";

export const nodeKeys = (id: string) => {
  const alive = keys.nodeAlive(id);
  const base = alive.slice(0, -"alive".length);
  return {
    alive,
    gone: base + "gone",
    reaper: base + "reaper",
    inbox: keys.nodeInbox(id),
    users: keys.nodeUsers(id),
  };
};

/**
 * Renew the heartbeat unless the node was fenced. KEYS[1] alive, KEYS[2] gone.
 * ARGV[1] value (the node's start time), ARGV[2] ttl ms. Reply 1 beating, 0 fenced.
 */
export const BEAT: Script = {
  name: "bus_beat",
  numKeys: 2,
  source: `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`,
};

/**
 * Declare a silent node dead and try to become its reaper.
 * KEYS[1] alive, KEYS[2] gone, KEYS[3] reaper. ARGV[1] my id, ARGV[2] lock ms,
 * ARGV[3] how long the fence is kept (ms).
 * Reply 0: it is alive after all (nothing changed); 1: fenced, I reap it;
 * 2: fenced, another node holds the reaper lock.
 */
export const REAP_CLAIM: Script = {
  name: "bus_reap_claim",
  numKeys: 3,
  source: `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2], '1', 'PX', ARGV[3]) end
if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 2`,
};

/**
 * Append an event to a node's inbox. KEYS[1] gone, KEYS[2] inbox. ARGV[1] the most
 * unread entries an inbox may hold, ARGV[2..] the entry's fields.
 * Reply the entry id, "gone" (the node is fenced: it will never read it) or "full"
 * (refused rather than trimming an unread entry away).
 */
export const SEND: Script = {
  name: "bus_send",
  numKeys: 2,
  source: `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'gone' end
if redis.call('XLEN', KEYS[2]) >= tonumber(ARGV[1]) then return 'full' end
return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))`,
};

/**
 * A node leaving on purpose: fence it and drop its heartbeat, so the others reap it
 * at their next scan instead of waiting for the ttl. KEYS[1] alive, KEYS[2] gone.
 * ARGV[1] fence ms.
 */
export const LEAVE: Script = {
  name: "bus_leave",
  numKeys: 2,
  source: `
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
redis.call('DEL', KEYS[1])
return 1`,
};
