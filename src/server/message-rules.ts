/**
 * Messaging and block lists (behaviour.md §4): who may reach whom, what is stored for
 * later, and who is hidden from whom.
 */
import { MAX_TEXT_BYTES, textBytes } from "../protocol/messages.ts";
import type { HubContext, Reply, Req } from "./hub-context.ts";

export function message(hub: HubContext, from: string, m: Req<"message">): Reply {
  if (tooLong(hub, from, m.text)) return { code: "too_long" };
  if (!hub.accounts.exists(m.to)) return { code: "invalid_user" };
  if (m.to === from) return { code: "self" };
  if (hub.store.blocks.has(m.to, from)) return { code: "blocked_you" };
  const online = hub.presence.get(m.to);
  // Online with a backlog still going out: the message joins the mailbox behind it,
  // so it is shown after the older ones (delivery.ts); the sender sees "delivered".
  if (online && !hub.isDraining(online.sid)) {
    hub.out.send(online.sid, { t: "msg", from, text: m.text, kind: "direct" });
    return { code: "ok" };
  }
  // A failing store throws StoreError here: the hub replies storage_failure.
  if (hub.store.mailbox.count(m.to) >= hub.cfg.maxMailbox) {
    hub.log.debug(`mailbox of ${m.to} full (${hub.cfg.maxMailbox}), message from ${from} refused`);
    return { code: "mailbox_full" };
  }
  hub.store.mailbox.put(m.to, { from, text: m.text, at: hub.clock.now() });
  return { code: online ? "ok" : "stored" };
}

export function broadcast(hub: HubContext, from: string, m: Req<"broadcast">): Reply {
  if (tooLong(hub, from, m.text)) return { code: "too_long" };
  const to: number[] = [];
  let skipped = false;
  for (const [u, o] of hub.presence.entries()) {
    if (u === from) continue;
    if (hub.store.blocks.has(u, from)) skipped = true;
    else to.push(o.sid);
  }
  hub.out.sendMany(to, { t: "msg", from, text: m.text, kind: "broadcast" });
  return { code: skipped ? "partial" : "ok" };
}

export function block(hub: HubContext, user: string, m: Req<"block">): Reply {
  if (m.user === user) return { code: "self" };
  if (!hub.accounts.exists(m.user)) return { code: "invalid_user" };
  return { code: hub.store.blocks.add(user, m.user) ? "ok" : "already", user: m.user };
}

export function unblock(hub: HubContext, user: string, m: Req<"unblock">): Reply {
  if (m.user === user) return { code: "self" };
  if (!hub.accounts.exists(m.user)) return { code: "invalid_user" };
  return { code: hub.store.blocks.remove(user, m.user) ? "ok" : "not_blocked", user: m.user };
}

/** The other online users `user` may see. */
export function whoelse(hub: HubContext, user: string): Reply {
  return { code: "users", users: visibleTo(hub, user, [...hub.presence.users()]) };
}

/** The other users online at any moment of the last `seconds` that `user` may see. */
export function whoelseSince(hub: HubContext, user: string, seconds: number): Reply {
  const seen = hub.presence.onlineWithin(hub.clock.now(), seconds * 1000);
  return { code: "users", users: visibleTo(hub, user, seen) };
}

/** Other users from `names` that `viewer` may see (not self, not those who block the viewer). */
function visibleTo(hub: HubContext, viewer: string, names: string[]): string[] {
  return names.filter((u) => u !== viewer && !hub.store.blocks.has(u, viewer));
}

/** Over the text limit (behaviour.md §4)? Logged, so -d shows why a text was refused. */
function tooLong(hub: HubContext, from: string, text: string): boolean {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short texts need no encoding.
  if (text.length * 3 <= MAX_TEXT_BYTES) return false;
  const n = textBytes(text);
  if (n <= MAX_TEXT_BYTES) return false;
  hub.log.debug(`${from}: text of ${n} bytes over the limit of ${MAX_TEXT_BYTES}, refused`);
  return true;
}
