/**
 * One server's shared state in memory (state.ts): the lockout and the session
 * directory. Peer tokens (peertokens.ts) and the file registry (files.ts) are
 * their own memory implementations. Every answer is immediate.
 */
import type { Clock } from "../common/clock.ts";
import { PeerTokens } from "./peertokens.ts";
import { FileRegistry } from "./files.ts";
import { MAX_FAILURES, type Directory, type Lockout, type SessionInfo, type SharedState } from "./state.ts";

export class MemoryLockout implements Lockout {
  private failures = new Map<string, number>();
  private blockedUntil = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly blockMs: number,
  ) {}

  isBlocked(user: string): boolean {
    const until = this.blockedUntil.get(user);
    if (until === undefined) return false;
    if (this.clock.now() < until) return true;
    this.blockedUntil.delete(user);
    return false;
  }

  success(user: string): "ok" | "blocked" {
    if (this.isBlocked(user)) return "blocked";
    this.failures.delete(user);
    return "ok";
  }

  failure(user: string): "bad_password" | "locked_now" | "blocked" {
    if (this.isBlocked(user)) return "blocked";
    const n = (this.failures.get(user) ?? 0) + 1;
    if (n >= MAX_FAILURES) {
      this.failures.delete(user);
      this.blockedUntil.set(user, this.clock.now() + this.blockMs);
      return "locked_now";
    }
    this.failures.set(user, n);
    return "bad_password";
  }
}

/** History starts with the process (behaviour.md §8). */
export class MemoryDirectory implements Directory {
  private sessions = new Map<string, SessionInfo>();
  private lastLogout = new Map<string, number>();

  claim(user: string, info: SessionInfo, replacing?: SessionInfo): boolean {
    const cur = this.sessions.get(user);
    if (cur && !(replacing && cur.node === replacing.node && cur.sid === replacing.sid)) return false;
    this.sessions.set(user, info);
    return true;
  }
  release(user: string, info: SessionInfo, at: number): boolean {
    const cur = this.sessions.get(user);
    if (!cur || cur.node !== info.node || cur.sid !== info.sid) return false;
    this.sessions.delete(user);
    this.lastLogout.set(user, at);
    return true;
  }
  lookup(user: string): SessionInfo | undefined {
    return this.sessions.get(user);
  }
  usersOf(node: string): string[] {
    return [...this.sessions].filter(([, i]) => i.node === node).map(([u]) => u);
  }
  online(): string[] {
    return [...this.sessions.keys()];
  }
  seenSince(from: number): string[] {
    const out = [...this.sessions.keys()];
    for (const [u, at] of this.lastLogout) if (at >= from && !this.sessions.has(u)) out.push(u);
    return out;
  }
}

export function memoryState(clock: Clock, blockMs: number): SharedState {
  return {
    lockout: new MemoryLockout(clock, blockMs),
    directory: new MemoryDirectory(),
    tokens: new PeerTokens(clock),
    files: new FileRegistry(),
  };
}
