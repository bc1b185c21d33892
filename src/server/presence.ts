/**
 * Who is logged in on THIS server, by user: the sessions the hub sends to. Who is
 * online anywhere (a cluster) and who was (whoelsesince) is the Directory's
 * (state.ts); this map is the local, synchronous view the hot paths use.
 */
/** peerCert: the fingerprint of the user's peer listener certificate, vouched for to callers. */
export type Online = { sid: number; since: number; host: string; peerPort?: number; peerCert?: string };

export class Presence {
  private online = new Map<string, Online>();

  get(user: string): Online | undefined {
    return this.online.get(user);
  }
  isOnline(user: string): boolean {
    return this.online.has(user);
  }
  users(): IterableIterator<string> {
    return this.online.keys();
  }
  entries(): IterableIterator<[string, Online]> {
    return this.online.entries();
  }
  values(): IterableIterator<Online> {
    return this.online.values();
  }
  get size(): number {
    return this.online.size;
  }

  /** The sessions of `user` and of `others` that are logged in here. */
  sessionsOf(user: string, others?: Iterable<string>): number[] {
    const sids: number[] = [];
    const o = this.online.get(user);
    if (o) sids.push(o.sid);
    if (others) for (const u of others) {
      const p = this.online.get(u);
      if (p) sids.push(p.sid);
    }
    return sids;
  }

  login(user: string, info: Online): void {
    this.online.set(user, info);
  }
  logout(user: string): void {
    this.online.delete(user);
  }
}
