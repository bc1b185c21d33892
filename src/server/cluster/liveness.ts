/**
 * Which other nodes look dead — the pure judgement behind the heartbeat (no I/O,
 * time passed in). Fed one scan at a time: the nodes registered in `tc:nodes` and
 * which of them still have their heartbeat key (`tc:{n:X}:alive`, a PX ttl).
 *
 * A registered node without its key is a *suspect*; the bus then fences it in Redis
 * (REAP_CLAIM: atomic with the key's absence, so a node that beats again in between
 * is not declared dead) and only then reports it dead, once per node id
 * (`confirm`, also fed by the reaper's announcement on the events stream, so every
 * node reports it even when the reaper removed it before this node's scan saw it).
 * Nothing is suspected while this node's own link has been up for less than
 * `graceMs`: after an outage every node's key may have expired at once, and the
 * others need a beat's time to renew theirs (docs/scaling.md, the 10 s rule).
 * Reported ids are kept for the process's life: node ids are random per process,
 * never reused, and a process sees few deaths (16 bytes each); forgetting them when
 * they leave `tc:nodes` would let a late announcement report one twice.
 */
export class LivenessJudge {
  private readonly reported = new Set<string>();

  constructor(
    private readonly selfId: string,
    private readonly graceMs: number,
  ) {}

  /**
   * The suspects of one scan: registered, not this node, heartbeat key gone.
   * `upSince` is when this node's Redis link last came up (null: it is down).
   */
  suspects(now: number, upSince: number | null, registered: readonly string[], alive: ReadonlySet<string>): string[] {
    if (upSince === null || now - upSince < this.graceMs) return [];
    return registered.filter((id) => id !== this.selfId && !alive.has(id));
  }

  /** Redis confirmed the node is fenced: true the first time (report it), false after. */
  confirm(id: string): boolean {
    if (this.reported.has(id)) return false;
    this.reported.add(id);
    return true;
  }
}
