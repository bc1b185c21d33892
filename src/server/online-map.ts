/**
 * OnlineMap — a cluster server's picture of who is logged in on the OTHER servers,
 * and whom each of them blocks, kept from the presence and block events every server
 * already receives over the bus (routed.ts). A message to a user of another server
 * then needs no Redis round trip before it is sent: where the recipient is and
 * whether they block the sender are read here.
 *
 * It is a fast path, never the truth: a user missing here is looked up in Redis as
 * before (users logged in before this server started, or whose login event is still
 * on its way); a stale entry routes the message to a server that no longer holds the
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

  /** `user` logged in on `node`, blocking `blocks`. */
  in(user: string, node: string, blocks: Iterable<string>): void {
    this.users.set(user, { node, blocks: new Set(blocks) });
  }

  /** `user`'s session on `node` ended. */
  out(user: string, node: string): void {
    if (this.users.get(user)?.node === node) this.users.delete(user);
  }

  /** `user` (logged in on `node`) now blocks exactly `blocks`. */
  blocks(user: string, node: string, blocks: Iterable<string>): void {
    const w = this.users.get(user);
    if (w?.node === node) this.users.set(user, { node, blocks: new Set(blocks) });
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
