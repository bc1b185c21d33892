/**
 * Answering a request: the rule's reply, now or when the store answered; a store
 * that failed under it makes it `storage_failure` (behaviour.md §8), a cluster's
 * shared state out of reach makes it `busy`. Anything else thrown is a bug.
 */
import type { ServerMsg } from "../protocol/messages.ts";
import { isOutage } from "./cluster/errors.ts";
import type { HubContext, MaybeReply, Reply, Session } from "./hub-context.ts";
import { isPromise, type MaybePromise } from "./maybe.ts";
import { StoreError } from "./store.ts";

export function answer(hub: HubContext, s: Session, id: number, r: MaybeReply | (() => MaybeReply)): MaybePromise<void> {
  const v = outcome(hub, s, r);
  if (!isPromise(v)) return sendReply(hub, s, id, v);
  return v.then((ok) => sendReply(hub, s, id, ok));
}

/**
 * answer() for a rule of (hub, user, request), called here with them: no closure
 * per request on the hot path (a direct message), the same failures handled.
 */
export function answerRule<M>(
  hub: HubContext,
  s: Session,
  id: number,
  rule: (hub: HubContext, user: string, m: M) => MaybeReply,
  user: string,
  m: M,
): MaybePromise<void> {
  let v: MaybeReply;
  try {
    v = rule(hub, user, m);
  } catch (e) {
    v = failed(hub, s, e);
  }
  return answer(hub, s, id, v);
}

/** The rule's reply, failures of the state under it turned into `busy`/`storage_failure` (a bug still throws/rejects). */
export function outcome(hub: HubContext, s: Session, r: MaybeReply | (() => MaybeReply)): MaybeReply {
  let v: MaybeReply;
  try {
    v = typeof r === "function" ? r() : r;
  } catch (e) {
    return failed(hub, s, e);
  }
  return isPromise(v) ? v.catch((e) => failed(hub, s, e)) : v;
}

function failed(hub: HubContext, s: Session, e: unknown): Reply {
  if (isOutage(e)) {
    hub.log.debug(`session ${s.sid}: ${s.user}: shared state unavailable: ${(e as Error).message}`);
    return { code: "busy" };
  }
  if (!(e instanceof StoreError)) throw e;
  hub.log.debug(`session ${s.sid}: ${s.user}: storage failure: ${e.message}`);
  return { code: "storage_failure" };
}

export function sendReply(hub: HubContext, s: Session, id: number, r: Reply): void {
  // Not `{ t, id, ...r }`: the spread was ~4 % of a relaying server's CPU (same fields, same order).
  const m = { t: "reply", id, code: r.code } as Extract<ServerMsg, { t: "reply" }>;
  for (const k in r) if (k !== "code") (m as any)[k] = (r as any)[k];
  hub.out.send(s.sid, m);
}
