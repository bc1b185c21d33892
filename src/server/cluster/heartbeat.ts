/**
 * NodeWatch — this node's heartbeat, and the watch over the others (the thin shell
 * around LivenessJudge; used by ClusterBus, which documents the interface).
 *
 * Every `beatMs`: BEAT (renew `alive` with a `ttlMs` PX unless fenced) and
 * `ZADD tc:nodes <now> <id>`. Every `scanMs`: ZRANGE tc:nodes, EXISTS each
 * `alive` key, ask the judge for suspects, REAP_CLAIM each: fenced → `dead(id)`
 * once; won the reaper lock → `announce(id)` (an event every node hears: `heard`),
 * then `reap(id)`, after which the node's keys are deleted and it leaves tc:nodes. Worst case from a crash to `dead`: ttl + scan interval
 * (defaults 10 s + 2 s < 15 s). A failed reap is retried by whichever node takes
 * the lock once it expires.
 */
import type { Clock, Timer } from "../../common/clock.ts";
import { keys } from "../redis/keys.ts";
import { RedisUnavailable } from "./errors.ts";
import type { RedisLink } from "./link.ts";
import { LivenessJudge } from "./liveness.ts";
import { BEAT, nodeKeys, REAP_CLAIM } from "./node-scripts.ts";

export type WatchTimes = {
  beatMs: number;
  ttlMs: number;
  scanMs: number;
  graceMs: number;
  reapLockMs: number;
  fenceMs: number;
};

export type WatchHooks = {
  dead(id: string): void;
  /** Tell every node that id is fenced (the reaper does, before reaping). */
  announce(id: string): Promise<void>;
  /** Clean up after a dead node (its users, its unread inbox); rejects to retry later. */
  reap(id: string): Promise<void>;
  /** This node was declared dead by the others: it must stop serving. */
  fenced(): void;
  error(what: string, e: unknown): void;
};

export class NodeWatch {
  private readonly judge: LivenessJudge;
  private beatTimer: Timer | null = null;
  private scanTimer: Timer | null = null;
  private running = false;
  private offUp: (() => void) | null = null;
  private readonly startedAt: number;

  constructor(
    private readonly link: RedisLink,
    private readonly clock: Clock,
    readonly id: string,
    private readonly t: WatchTimes,
    private readonly hooks: WatchHooks,
  ) {
    this.judge = new LivenessJudge(id, t.graceMs);
    this.startedAt = clock.now();
  }

  /** First beat (must succeed: it registers the node), then the timers. */
  async start(): Promise<void> {
    this.running = true;
    if (!(await this.beat())) throw new Error(`node id ${this.id} is fenced`);
    // Back from an outage: beat at once, before the others' grace runs out.
    this.offUp = this.link.onUp(() => {
      if (this.running) this.beat().catch((e) => this.quiet("beat", e));
    });
    this.scheduleBeat();
    this.scheduleScan();
  }

  stop(): void {
    this.running = false;
    this.offUp?.();
    this.beatTimer?.cancel();
    this.scanTimer?.cancel();
  }

  /** Renew the heartbeat; false when the others have fenced this node. */
  async beat(): Promise<boolean> {
    const k = nodeKeys(this.id);
    const ok = await this.link.script(BEAT, [k.alive, k.gone], [String(this.startedAt), String(this.t.ttlMs)]);
    if (ok !== 1) {
      if (this.running) {
        this.stop();
        this.hooks.fenced();
      }
      return false;
    }
    await this.link.command("ZADD", [keys.nodes(), String(this.clock.now()), this.id]);
    return true;
  }

  /** One look at the others: who is silent, fence them, report and reap. */
  async scan(): Promise<void> {
    const registered = (await this.link.command("ZRANGE", [keys.nodes(), "0", "-1"])) as string[];
    const others = registered.filter((id) => id !== this.id);
    const exists = await Promise.all(others.map((id) => this.link.command("EXISTS", [nodeKeys(id).alive])));
    const alive = new Set(others.filter((_, i) => exists[i] === 1));
    const suspects = this.judge.suspects(this.clock.now(), this.link.upSince, registered, alive);
    for (const id of suspects) await this.claim(id);
  }

  private async claim(id: string): Promise<void> {
    const k = nodeKeys(id);
    const verdict = await this.link.script(
      REAP_CLAIM,
      [k.alive, k.gone, k.reaper],
      [this.id, String(this.t.reapLockMs), String(this.t.fenceMs)],
    );
    if (verdict === 0) return; // It beat again just in time.
    if (this.judge.confirm(id)) this.hooks.dead(id);
    if (verdict !== 1) return;
    await this.hooks.announce(id);
    await this.hooks.reap(id);
    await this.link.command("DEL", [k.inbox, k.users, k.alive]);
    await this.link.command("ZREM", [keys.nodes(), id]);
  }

  /** The reaper's announcement that id is fenced arrived (from the events stream). */
  heard(id: string): void {
    if (id !== this.id && this.judge.confirm(id)) this.hooks.dead(id);
  }

  private scheduleBeat(): void {
    if (!this.running) return;
    this.beatTimer = this.clock.after(this.t.beatMs, () => {
      this.beat()
        .catch((e) => this.quiet("beat", e))
        .finally(() => this.scheduleBeat());
    });
  }

  private scheduleScan(): void {
    if (!this.running) return;
    this.scanTimer = this.clock.after(this.t.scanMs, () => {
      this.scan()
        .catch((e) => this.quiet("scan", e))
        .finally(() => this.scheduleScan());
    });
  }

  /** An outage is the link's news (onDown), not an error to report again here. */
  private quiet(what: string, e: unknown): void {
    if (!(e instanceof RedisUnavailable)) this.hooks.error(what, e);
  }
}
