/**
 * A cluster server's block lists for its own users, in memory. A user's list
 * changes only by their own `block`/`unblock`, which reach the one server holding
 * their session (one session per user, cluster-wide): so while a user is logged in
 * here, their list read here is exact. Every message to a user of this server then
 * checks blocks without a Redis round trip (and keeps working while Redis is away).
 * Lists of users elsewhere are read from the store behind.
 */
import { then, type MaybePromise } from "./maybe.ts";
import type { BlockList } from "./store.ts";

export class CachedBlocks implements BlockList {
  private readonly lists = new Map<string, Set<string>>();

  constructor(private readonly inner: BlockList) {}

  /** `user` logs in here: their list is read once, then kept here until forget(). */
  load(user: string): MaybePromise<void> {
    return then(this.inner.blockedBy(user), (list) => {
      this.lists.set(user, new Set(list ?? []));
    });
  }
  forget(user: string): void {
    this.lists.delete(user);
  }

  has(blocker: string, blocked: string): MaybePromise<boolean> {
    const list = this.lists.get(blocker);
    return list ? list.has(blocked) : this.inner.has(blocker, blocked);
  }
  blockedBy(blocker: string): MaybePromise<ReadonlySet<string> | undefined> {
    return this.lists.get(blocker) ?? this.inner.blockedBy(blocker);
  }
  add(blocker: string, blocked: string): MaybePromise<boolean> {
    return then(this.inner.add(blocker, blocked), (added) => {
      this.lists.get(blocker)?.add(blocked);
      return added;
    });
  }
  remove(blocker: string, blocked: string): MaybePromise<boolean> {
    return then(this.inner.remove(blocker, blocked), (removed) => {
      this.lists.get(blocker)?.delete(blocked);
      return removed;
    });
  }
}
