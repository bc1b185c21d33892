/**
 * Who is online, and who was online when (for whoelsesince). History starts with
 * the server process (behaviour.md §8).
 */
/** peerCert: the fingerprint of the user's peer listener certificate, vouched for to callers. */
export type Online = { sid: number; since: number; host: string; peerPort?: number; peerCert?: string };

export class Presence {
  private online = new Map<string, Online>();
  private lastLogout = new Map<string, number>();

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

  login(user: string, info: Online): void {
    this.online.set(user, info);
  }
  logout(user: string, at: number): void {
    if (this.online.delete(user)) this.lastLogout.set(user, at);
  }

  /**
   * Users online at any moment in [now - windowMs, now]: those online now, and
   * those whose last session ended inside the window (a session that began
   * before the window but ended inside it counts).
   */
  onlineWithin(now: number, windowMs: number): string[] {
    const from = now - windowMs;
    const out = [...this.online.keys()];
    for (const [u, at] of this.lastLogout) if (at >= from && !this.online.has(u)) out.push(u);
    return out;
  }
}
