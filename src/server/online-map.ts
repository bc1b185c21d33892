/**
 * OnlineMap — a cluster server's picture of who is logged in on the OTHER servers,
 * and whom each of them blocks, kept from the presence and block events every server
 * already receives over the bus (routed.ts). A message to a user of another server
 * then needs no Redis round trip before it is sent: where the recipient is and
 * whether they block the sender are read here.
 *
 * It is a fast path, never the truth: a user missing here is looked up in Redis as
 * before (a login event still on its way; users of other servers are read once at
 * start and after an outage: routed.ts `resyncOnline`); a stale entry routes the message to a server that no longer holds the
 * user, which stores it in the mailbox (routed.ts `deliverHere`), or to a dead one,
 * whose "gone" makes the sender store it. The recipient's own server checks its exact
 * block list again before showing a routed message, so a block is never bypassed,
 * even in the moment before its event arrives here.
 *
 * Order: presence events of one user come from different servers (a logout on A, a
 * login on B) and may reach the events stream in either order, so an "out" removes
 * the entry only when it names the server the entry points to.
 */
export type Whereabouts = { node: string; blocks: ReadonlySet<string> };

export class OnlineMap {
  private readonly users = new Map<string, Whereabouts>();
  /** During a resync: users an event spoke of since it began (the event is newer than what the resync read). */
  private touched: Set<string> | undefined;

  /** `user` logged in on `node`, blocking `blocks`. */
  in(user: string, node: string, blocks: Iterable<string>): void {
    this.touched?.add(user);
    this.users.set(user, { node, blocks: new Set(blocks) });
  }

  /** `user`'s session on `node` ended. */
  out(user: string, node: string): void {
    this.touched?.add(user);
    if (this.users.get(user)?.node === node) this.users.delete(user);
  }

  /** `user` (logged in on `node`) now blocks exactly `blocks`. */
  blocks(user: string, node: string, blocks: Iterable<string>): void {
    this.touched?.add(user);
    const w = this.users.get(user);
    if (w?.node === node) this.users.set(user, { node, blocks: new Set(blocks) });
  }

  /**
   * A resync starts (at start, after a Redis outage): what it reads from Redis is
   * older than any event that arrives meanwhile, so those users are left to the events.
   */
  beginResync(): void {
    this.touched ??= new Set();
  }

  /** The resync's reading: who is on which server, whom they block. Users an event spoke of meanwhile are skipped. */
  endResync(found: { user: string; node: string; blocks: Iterable<string> }[]): void {
    const touched = this.touched ?? new Set<string>();
    this.touched = undefined;
    for (const f of found) if (!touched.has(f.user) && !this.users.has(f.user)) this.users.set(f.user, { node: f.node, blocks: new Set(f.blocks) });
  }

  /** Server `node` died or left: none of its users is there any more. */
  nodeGone(node: string): void {
    for (const [u, w] of this.users) if (w.node === node) this.users.delete(u);
  }

  where(user: string): Whereabouts | undefined {
    return this.users.get(user);
  }

  get size(): number {
    return this.users.size;
  }
}
