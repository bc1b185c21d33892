/**
 * The hub's shared state beyond the durable store (store.ts: mailbox, block
 * lists), behind small interfaces whose answers may arrive later (MaybePromise):
 * in one process they live in memory and answer at once; in a cluster they live
 * in Redis (src/server/redis/) and every node sees the same.
 *
 * Contract tests for every implementation: tests/contract/.
 */
import type { MaybePromise } from "./maybe.ts";
import type { HaveOutcome, RegisterOutcome, SearchAnswer } from "./files.ts";

/** Consecutive failed logins that block an account (behaviour.md §3). */
export const MAX_FAILURES = 3;

/** The per-username lockout (behaviour.md §3): counted wherever the attempts are made. */
export interface Lockout {
  /** Is the account blocked now? (Checked before an expensive password hash is verified.) */
  isBlocked(user: string): MaybePromise<boolean>;
  /** A right password: "ok" (the failure count is reset), or "blocked" while the account is. */
  success(user: string): MaybePromise<"ok" | "blocked">;
  /** A wrong password: counted; the MAX_FAILURES-th in a row blocks the account for the block duration. */
  failure(user: string): MaybePromise<"bad_password" | "locked_now" | "blocked">;
}

/** Where a user's session is, and what peers need to reach them. */
export type SessionInfo = {
  /** The server process (node) holding it; "" in a single server. */
  node: string;
  /** The session on that node. */
  sid: number;
  since: number;
  host: string;
  peerPort?: number;
  /** Fingerprint of the user's peer listener certificate (vouched for to callers). */
  peerCert?: string;
};

/** Who is online (anywhere), and who was (whoelsesince). One session per user. */
export interface Directory {
  /**
   * Take `user`'s session: false if someone holds it already (nothing changed). With
   * `replacing`, also take it if it is still held by exactly that session (whose
   * server is known dead): of two servers taking over the same stale session, one wins.
   */
  claim(user: string, info: SessionInfo, replacing?: SessionInfo): MaybePromise<boolean>;
  /** The session `info` ended at `at`; a session someone else has since claimed is left alone (false). */
  release(user: string, info: SessionInfo, at: number): MaybePromise<boolean>;
  lookup(user: string): MaybePromise<SessionInfo | undefined>;
  /** The users whose sessions are on server `node` (to log them out when it dies). */
  usersOf(node: string): MaybePromise<string[]>;
  /** Everyone online now. */
  online(): MaybePromise<string[]>;
  /** Everyone online now or whose last session ended at or after `from` (ms). */
  seenSince(from: number): MaybePromise<string[]>;
}

/** One-time peer tokens (behaviour.md §6): issued through one server, redeemed through any. */
export interface TokenStore {
  /** A new token for `caller` to call `callee`, and how many of the caller's own were evicted for it (byte budget). */
  issue(caller: string, callee: string): MaybePromise<{ token: string; evicted: number }>;
  /** True if `token` was issued to `caller` for `callee` and has not expired; spent either way. */
  redeem(token: string, caller: string, callee: string): MaybePromise<boolean>;
}

/** The chunk registry (behaviour.md §6); see files.ts for the rules and the byte caps. */
export interface FileIndex {
  register(user: string, name: string, size: number, hashes: string[], have?: number[]): MaybePromise<RegisterOutcome>;
  have(user: string, name: string, chunks: number[]): MaybePromise<HaveOutcome>;
  /** `user` went offline: they hold nothing any more; files nobody holds are forgotten. */
  dropUser(user: string): MaybePromise<void>;
  /** The file with every holder (most chunks first); the caller hides whom it must. */
  search(name: string): MaybePromise<SearchAnswer | undefined>;
}

export type SharedState = {
  lockout: Lockout;
  directory: Directory;
  tokens: TokenStore;
  files: FileIndex;
};
