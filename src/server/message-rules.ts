/**
 * Messaging and block lists (behaviour.md §4): who may reach whom, what is stored for
 * later, and who is hidden from whom.
 */
import { directMsg, MessageInFrame } from "../protocol/frame-text.ts";
import { MAX_TEXT_BYTES, textBytes } from "../protocol/messages.ts";
import type { HubContext, MaybeReply, Reply, Req } from "./hub-context.ts";
import { all, filter, isPromise, then, type MaybePromise } from "./maybe.ts";
import type { SessionInfo } from "./state.ts";

export function message(hub: HubContext, from: string, m: Req<"message">): MaybeReply {
  if (tooLong(hub, from, m)) return { code: "too_long" };
  // The sender's own name is an account: `self` whichever of the two is asked first.
  if (m.to === from) return { code: "self" };
  // Someone online here has an account: one lookup, not two, on the common path.
  const here = hub.presence.get(m.to);
  if (here === undefined && !hub.accounts.exists(m.to)) return { code: "invalid_user" };
  if (hub.router && !here) {
    // A cluster, the recipient on another server as far as the bus told: no round trip.
    const there = hub.elsewhere?.where(m.to);
    if (there) return there.blocks.has(from) ? { code: "blocked_you" } : route(hub, from, m, there.node);
    // Not known here: where they are is asked along with the block check (one round trip).
    return then(all<unknown>([hub.store.blocks.has(m.to, from), hub.directory.lookup(m.to)]), ([blocked, where]) =>
      decide(hub, from, m, blocked as boolean, where as SessionInfo | undefined),
    );
  }
  const blocked = hub.store.blocks.has(m.to, from);
  // Decided now (a store in memory or SQLite): who is online is what was just read.
  if (!isPromise(blocked)) return decide(hub, from, m, blocked, undefined, here);
  return blocked.then((b) => decide(hub, from, m, b, undefined));
}

/**
 * May this message overlap the sender's earlier requests still waiting for Redis
 * (pipeline.ts)? Yes when message() decides it from this server's memory alone and
 * every effect is fixed, in order, the moment it is handled: the recipient is known
 * to be on another server (OnlineMap), so it is either refused at once or queued on
 * the bus behind the sender's earlier messages (batcher.ts keeps call order per
 * server). Its outcome decides only the reply, or a store when that server is gone,
 * and outcomes come back in the order the sends went out.
 */
export function sentWithoutWaiting(hub: HubContext, from: string, m: Req<"message">): boolean {
  return hub.elsewhere !== undefined && m.to !== from && !hub.presence.get(m.to) && hub.elsewhere.where(m.to) !== undefined && hub.accounts.exists(m.to);
}

/** `online`: who is logged in here as `m.to`, when the caller read it in this same turn. */
function decide(hub: HubContext, from: string, m: Req<"message">, blocked: boolean, where: SessionInfo | undefined, online = hub.presence.get(m.to)): MaybeReply {
  if (blocked) return { code: "blocked_you" };
  // Online with a backlog still going out: the message joins the mailbox behind it,
  // so it is shown after the older ones (delivery.ts); the sender sees "delivered".
  if (online && !hub.isDraining(online.sid)) {
    hub.out.send(online.sid, directMsg(from, m));
    return { code: "ok" };
  }
  if (online || !where || where.node === hub.node) return keep(hub, from, m, online !== undefined);
  return route(hub, from, m, where.node);
}

/** A cluster: `m.to` is logged in on another server; send it there (stored if that server is gone). */
function route(hub: HubContext, from: string, m: Req<"message">, node: string): MaybeReply {
  return hub.router!.sendTo(node, { t: "dm", to: m.to, from, text: m.text }).then((r): MaybeReply => {
    if (r === "sent") return { code: "ok" };
    // Its server died (or cannot take more): the message waits in the mailbox.
    hub.log.debug(`message for ${m.to} on server ${node}: ${r}, stored instead`);
    return keep(hub, from, m, false);
  });
}

/** Into the recipient's mailbox, unless it is full. A failing store rejects/throws StoreError: the hub replies storage_failure. */
function keep(hub: HubContext, from: string, m: Req<"message">, online: boolean): MaybeReply {
  return then(hub.store.mailbox.count(m.to), (n): MaybeReply => {
    if (n >= hub.cfg.maxMailbox) {
      hub.log.debug(`mailbox of ${m.to} full (${hub.cfg.maxMailbox}), message from ${from} refused`);
      return { code: "mailbox_full" };
    }
    return then(hub.store.mailbox.put(m.to, { from, text: m.text, at: hub.clock.now() }), () => ({ code: online ? "ok" : "stored" }) as Reply);
  });
}

export function broadcast(hub: HubContext, from: string, m: Req<"broadcast">): MaybeReply {
  if (tooLong(hub, from, m)) return { code: "too_long" };
  if (hub.router) return broadcastCluster(hub, from, m);
  const online = [...hub.presence.entries()].filter(([u]) => u !== from);
  return then(all(online.map(([u]) => hub.store.blocks.has(u, from))), (blocks) => {
    const to: number[] = [];
    online.forEach(([, o], i) => {
      if (!blocks[i]) to.push(o.sid);
    });
    hub.out.sendMany(to, { t: "msg", from, text: m.text, kind: "broadcast" });
    return { code: to.length < online.length ? "partial" : "ok" };
  });
}

/** A cluster: who blocks the sender is decided here, once; every server shows it to its users but those. */
function broadcastCluster(hub: HubContext, from: string, m: Req<"broadcast">): MaybeReply {
  return then(hub.directory.online(), (names) =>
    then(
      filter(names, (u) => u !== from && hub.store.blocks.has(u, from)),
      (skip) => hub.router!.publish({ t: "bc", from, text: m.text, skip }).then((): Reply => ({ code: skip.length > 0 ? "partial" : "ok" })),
    ),
  );
}

export function block(hub: HubContext, user: string, m: Req<"block">): MaybeReply {
  if (m.user === user) return { code: "self" };
  if (!hub.accounts.exists(m.user)) return { code: "invalid_user" };
  return then(hub.store.blocks.add(user, m.user), (added) => then(tellBlocks(hub, user), () => ({ code: added ? "ok" : "already", user: m.user }) as Reply));
}

export function unblock(hub: HubContext, user: string, m: Req<"unblock">): MaybeReply {
  if (m.user === user) return { code: "self" };
  if (!hub.accounts.exists(m.user)) return { code: "invalid_user" };
  return then(hub.store.blocks.remove(user, m.user), (removed) => then(tellBlocks(hub, user), () => ({ code: removed ? "ok" : "not_blocked", user: m.user }) as Reply));
}

/**
 * A cluster: the other servers' OnlineMaps learn `user`'s new list (they decide
 * `blocked_you` with it). The reply waits until the event is in Redis; a message a
 * server sends before its reader saw the event is still refused by the blocker's own
 * server, which checks its exact list before showing it (routed.ts `deliverHere`).
 */
function tellBlocks(hub: HubContext, user: string): MaybePromise<void> {
  if (!hub.router) return;
  return then(hub.store.blocks.blockedBy(user), (list) => hub.router!.publish({ t: "blocks", user, node: hub.node, list: [...(list ?? [])] }));
}

/** The other online users `user` may see. */
export function whoelse(hub: HubContext, user: string): MaybeReply {
  return then(hub.directory.online(), (names) => users(visibleTo(hub, user, names)));
}

/** The other users online at any moment of the last `seconds` that `user` may see. */
export function whoelseSince(hub: HubContext, user: string, seconds: number): MaybeReply {
  // A session that began before the window but ended inside it counts.
  return then(hub.directory.seenSince(hub.clock.now() - seconds * 1000), (names) => users(visibleTo(hub, user, names)));
}

const users = (names: MaybePromise<string[]>): MaybeReply => then(names, (list) => ({ code: "users", users: list }) as Reply);

/** Other users from `names` that `viewer` may see (not self, not those who block the viewer). */
function visibleTo(hub: HubContext, viewer: string, names: string[]): MaybePromise<string[]> {
  return filter(names, (u) => u !== viewer && then(hub.store.blocks.has(u, viewer), (b) => !b));
}

/** Over the text limit (behaviour.md §4)? Logged, so -d shows why a text was refused. */
function tooLong(hub: HubContext, from: string, m: { text: string }): boolean {
  // A text still in its frame knows its size without being made a string.
  if (m instanceof MessageInFrame) return m.textBytes > MAX_TEXT_BYTES && refuse(hub, from, m.textBytes);
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short texts need no encoding.
  const text = m.text;
  if (text.length * 3 <= MAX_TEXT_BYTES) return false;
  const n = textBytes(text);
  return n > MAX_TEXT_BYTES && refuse(hub, from, n);
}

function refuse(hub: HubContext, from: string, bytes: number): true {
  hub.log.debug(`${from}: text of ${bytes} bytes over the limit of ${MAX_TEXT_BYTES}, refused`);
  return true;
}
