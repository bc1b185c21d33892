/**
 * Credentials and the per-username lockout (SPEC §3): the failure count belongs
 * to the username, not the connection; the third consecutive failure blocks the
 * account for block_duration; a success resets the count.
 */
import { timingSafeEqual, createHash } from "node:crypto";
import type { Clock } from "../common/clock.ts";
import type { MaybePromise } from "./maybe.ts";
import { MemoryLockout } from "./memory-state.ts";
import type { Lockout } from "./state.ts";

export { MAX_FAILURES } from "./state.ts";

export type Verdict = "ok" | "unknown_user" | "bad_password" | "locked_now" | "blocked";

export type CredentialsParse = { users: Map<string, string>; warnings: string[] };

/** Parse credentials.txt: `username password` per line, one space; blank lines ignored. */
export function parseCredentials(text: string): CredentialsParse {
  const users = new Map<string, string>();
  const warnings: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    const m = /^(\S+) (\S+)$/.exec(line);
    if (!m) {
      warnings.push(`credentials line ${i + 1} is malformed (expected "username password"), skipped`);
      return;
    }
    if (users.has(m[1]!)) {
      warnings.push(`credentials line ${i + 1} repeats user ${m[1]}, skipped`);
      return;
    }
    users.set(m[1]!, m[2]!);
  });
  return { users, warnings };
}

const digest = (s: string) => createHash("sha256").update(s).digest();

export class Accounts {
  private readonly hashes = new Map<string, Buffer>();

  constructor(
    users: Map<string, string>,
    clock: Clock,
    blockMs: number,
    /** Where failures are counted (memory here; Redis in a cluster, so they count cluster-wide). */
    readonly lockout: Lockout = new MemoryLockout(clock, blockMs),
  ) {
    // Compare digests, which have a fixed length, in constant time.
    for (const [u, p] of users) this.hashes.set(u, digest(p));
  }

  exists(user: string): boolean {
    return this.hashes.has(user);
  }

  get names(): string[] {
    return [...this.hashes.keys()];
  }

  isBlocked(user: string): MaybePromise<boolean> {
    return this.lockout.isBlocked(user);
  }

  attempt(user: string, password: string): MaybePromise<Verdict> {
    const want = this.hashes.get(user);
    if (!want) return "unknown_user";
    return timingSafeEqual(want, digest(password)) ? this.lockout.success(user) : this.lockout.failure(user);
  }
}
