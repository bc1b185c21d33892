/**
 * Credentials and the per-username lockout (behaviour.md §3): the failure count belongs
 * to the username, not the connection; the third consecutive failure blocks the
 * account for block_duration; a success resets the count.
 */
import { timingSafeEqual } from "node:crypto";
import type { Clock } from "../common/clock.ts";
import { then, type MaybePromise } from "./maybe.ts";
import { MemoryLockout } from "./memory-state.ts";
import type { Lockout } from "./state.ts";

export { MAX_FAILURES } from "./state.ts";

export type Verdict = "ok" | "unknown_user" | "bad_password" | "locked_now" | "blocked";

/**
 * Checks a password against a stored hash (Bun.password.verify in the server:
 * argon2id costs ~170 ms of CPU and bcrypt(10) ~80 ms, so it runs off the main
 * thread and the server serves everyone else meanwhile). Injected, so the rules
 * can be tested with verdicts that arrive when a test says.
 */
export type PasswordVerifier = (password: string, hash: string) => Promise<boolean>;

export const bunVerifier: PasswordVerifier = (password, hash) => Bun.password.verify(password, hash);

/** A credentials field written by Bun.password.hash (argon2) or any bcrypt (`$2a$`, `$2b$`, `$2y$`). */
export function isPasswordHash(field: string): boolean {
  return /^\$(argon2id|argon2i|argon2d|2[aby])\$/.test(field);
}

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

/** One native call: node:crypto's createHash goes through JS wrappers (~4x the time, more before the JIT warms up). */
const digest = (s: string) => Bun.SHA256.hash(s) as Uint8Array;

/** A plain password is kept as its digest (compared in constant time); a hash as it is. */
type Stored = { digest: Uint8Array } | { hash: string };

export class Accounts {
  private readonly hashes = new Map<string, Stored>();

  constructor(
    users: Map<string, string>,
    clock: Clock,
    blockMs: number,
    private readonly verifier: PasswordVerifier = bunVerifier,
    /** Where failures are counted (memory here; Redis in a cluster, so they count cluster-wide). */
    readonly lockout: Lockout = new MemoryLockout(clock, blockMs),
  ) {
    // Compare digests, which have a fixed length, in constant time.
    for (const [u, p] of users) this.hashes.set(u, isPasswordHash(p) ? { hash: p } : { digest: digest(p) });
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

  /**
   * Check a login. The verdict is immediate for an unknown user or a plain password
   * with a lockout in memory; a hashed one is verified off the main thread (not at
   * all while the account is blocked), and the lockout is applied when its verdict
   * arrives (the same rule either way).
   */
  attempt(user: string, password: string): MaybePromise<Verdict> {
    const want = this.hashes.get(user);
    if (!want) return "unknown_user";
    if ("digest" in want) return this.settle(user, timingSafeEqual(want.digest, digest(password)));
    return then(this.lockout.isBlocked(user), (blocked) => {
      if (blocked) return "blocked" as const;
      return this.verifier(password, want.hash).then(
        (ok) => this.settle(user, ok),
        () => this.settle(user, false), // a hash the verifier cannot read matches nothing
      );
    });
  }

  /** The password was right or wrong: the lockout decides (blocked meanwhile: blocked it is). */
  private settle(user: string, ok: boolean): MaybePromise<Verdict> {
    return ok ? this.lockout.success(user) : this.lockout.failure(user);
  }
}
