/**
 * The cluster side of the rules (behaviour.md §11): what arrives from other servers
 * (direct messages for users logged in here, broadcasts, presence changes), and the
 * cleanup after a server died (its users logged out for everyone, what was on its
 * way to it stored). The events are RoutedEvents carried by the cluster bus.
 */
import type { HubContext, RoutedEvent } from "./hub-context.ts";
import { isOutage } from "./cluster/errors.ts";
import { isPromise, then, type MaybePromise } from "./maybe.ts";

/** An event from the bus (any server, this one included). Malformed ones are logged and ignored. */
export function routedIn(hub: HubContext, e: Record<string, unknown>): void {
  const ev = e as RoutedEvent;
  switch (ev.t) {
    case "dm":
      if (typeof ev.to === "string" && typeof ev.from === "string" && typeof ev.text === "string") return deliverHere(hub, ev.to, ev.from, ev.text);
      break;
    case "bc":
      if (typeof ev.from === "string" && typeof ev.text === "string" && Array.isArray(ev.skip)) {
        const skip = new Set(ev.skip);
        return showAll(hub, (u) => u !== ev.from && !skip.has(u), { t: "msg", from: ev.from, text: ev.text, kind: "broadcast" });
      }
      break;
    case "presence":
      if (typeof ev.user === "string" && (ev.state === "in" || ev.state === "out") && Array.isArray(ev.hide)) {
        // Without `node` (not expected from this version) it is still shown, just not mapped.
        if (typeof ev.node === "string") mapPresence(hub, ev);
        // To everyone here but `user` and those it hides from, with this window's notices.
        return hub.notices.announce({ t: "presence", user: ev.user, state: ev.state }, hub.presence.sessionsOf(ev.user, ev.hide));
      }
      break;
    case "blocks":
      if (typeof ev.user === "string" && typeof ev.node === "string" && Array.isArray(ev.list)) {
        if (ev.node !== hub.node) hub.elsewhere?.blocks(ev.user, ev.node, ev.list);
        return;
      }
      break;
  }
  hub.log.debug(`cluster: unreadable event ${JSON.stringify(e).slice(0, 200)} ignored`);
}

/** Keep the map of users on other servers (this server's own users are in hub.presence). */
function mapPresence(hub: HubContext, ev: Extract<RoutedEvent, { t: "presence" }>): void {
  if (ev.node === hub.node) return;
  if (ev.state === "in") hub.elsewhere?.in(ev.user, ev.node, ev.hide);
  else hub.elsewhere?.out(ev.user, ev.node);
}

/** To the users logged in here that `want` says yes to. */
function showAll(hub: HubContext, want: (user: string) => boolean, msg: Parameters<HubContext["out"]["sendMany"]>[1]): void {
  const to: number[] = [];
  for (const [u, o] of hub.presence.entries()) if (want(u)) to.push(o.sid);
  hub.out.sendMany(to, msg);
}

/**
 * A direct message routed here for `to`. Shown now if `to` is logged in here with no
 * backlog going out; else (gone meanwhile, or a backlog draining) into the mailbox, so
 * it is shown in order at the latest at the next login.
 */
function deliverHere(hub: HubContext, to: string, from: string, text: string): void {
  const o = hub.presence.get(to);
  // The sender's server decided with its OnlineMap, which may not yet know of a block
  // made here a moment ago: the list kept here for `to` is exact (cached-blocks.ts).
  const blocked = o ? hub.store.blocks.has(to, from) : false;
  if (isPromise(blocked)) blocked.catch(() => {}); // not kept here after all: the sender's check stands
  if (blocked === true) return hub.log.debug(`routed message for ${to} from ${from}: blocked, dropped`);
  if (o && !hub.isDraining(o.sid)) return hub.out.send(o.sid, { t: "msg", from, text, kind: "direct" });
  background(hub, `routed message for ${to} from ${from}`, () => then(hub.store.mailbox.put(to, { from, text, at: hub.clock.now() }), () => {}));
}

/**
 * Server `node` died (this server won the reap): its users' sessions are released
 * and announced gone, their files dropped, and the messages routed to it that it
 * had not read are stored in their recipients' mailboxes.
 */
export async function reapNode(hub: HubContext, node: string, unread: { event: Record<string, unknown> }[]): Promise<void> {
  const now = hub.clock.now();
  for (const user of await hub.directory.usersOf(node)) {
    const info = await hub.directory.lookup(user);
    // Taken over already (a login through another server): nothing to release or announce.
    if (info?.node !== node || !(await hub.directory.release(user, info, now))) continue;
    await hub.files.dropUser(user);
    await announce(hub, user, "out", node);
    hub.log.debug(`cluster: ${user} logged out (server ${node} died)`);
  }
  for (const { event } of unread) {
    const ev = event as RoutedEvent;
    if (ev.t !== "dm") continue;
    await hub.store.mailbox.put(ev.to, { from: ev.from, text: ev.text, at: now });
  }
}

/**
 * Fill the OnlineMap from the shared state (at start, and after a Redis outage): the
 * users each live server holds (its user set, checked against each session key),
 * with their block lists. Without it, users who logged in before this server started
 * would stay on the slow path (a Redis lookup per message) until they log in again.
 * Events arriving meanwhile win (OnlineMap.endResync); a failure leaves what was read.
 */
export async function resyncOnline(hub: HubContext, nodes: string[]): Promise<void> {
  const map = hub.elsewhere;
  if (!map) return;
  map.beginResync();
  const found: { user: string; node: string; blocks: Iterable<string> }[] = [];
  try {
    for (const node of nodes) {
      if (node === hub.node) continue;
      const users = await hub.directory.usersOf(node);
      const infos = await Promise.all(users.map((u) => hub.directory.lookup(u)));
      const held = users.filter((_, i) => infos[i]?.node === node);
      const blocks = await Promise.all(held.map((u) => hub.store.blocks.blockedBy(u)));
      held.forEach((user, i) => found.push({ user, node, blocks: blocks[i] ?? [] }));
    }
  } finally {
    map.endResync(found);
  }
}

/** Tell every server that `user` came or went on `node` (hidden from those `user` blocks). */
export function announce(hub: HubContext, user: string, state: "in" | "out", node = hub.node): MaybePromise<void> {
  return then(hub.store.blocks.blockedBy(user), (blocked) => hub.router!.publish({ t: "presence", user, state, hide: [...(blocked ?? [])], node }));
}

/**
 * A step that must happen though nobody waits for it (a logout's release): while the
 * shared state is out of reach it is tried again every second (for up to an hour),
 * else a user whose logout met a Redis outage would stay "online" for good.
 */
export function insist(hub: HubContext, what: string, step: () => MaybePromise<unknown>, tries = 3600): void {
  const failed = (e: unknown) => {
    if (isOutage(e) && tries > 1) return void hub.clock.after(1000, () => insist(hub, what, step, tries - 1));
    hub.log.debug(`${what}: failed: ${(e as Error).message}`);
  };
  try {
    const r = step();
    if (isPromise(r)) r.catch(failed);
  } catch (e) {
    failed(e);
  }
}

/** A step nobody waits for: a failure is logged. */
export function background(hub: HubContext, what: string, step: () => MaybePromise<void>): void {
  const failed = (e: unknown) => hub.log.debug(`${what}: failed: ${(e as Error).message}`);
  try {
    const r = step();
    if (isPromise(r)) r.catch(failed);
  } catch (e) {
    failed(e);
  }
}
