/**
 * What the hub's rule modules share: configuration, the Outbox, the session
 * record, and the context object (the Hub itself) they act through. Types only,
 * plus the default limits.
 */
import type { OnlineMap } from "./online-map.ts";
import type { OrderedReplies } from "./ordered-replies.ts";
import type { Clock, Timer } from "../common/clock.ts";
import type { Logger } from "../common/logger.ts";
import type { ClientMsg, ServerMsg } from "../protocol/messages.ts";
import type { Accounts, PasswordVerifier } from "./accounts.ts";
import type { Presence } from "./presence.ts";
import type { Store } from "./store.ts";
import type { Directory, FileIndex, SessionInfo, TokenStore } from "./state.ts";
import type { MaybePromise } from "./maybe.ts";

export interface Outbox {
  send(sid: number, msg: ServerMsg): void;
  /** Same message to many sessions (encoded once). */
  sendMany(sids: number[], msg: ServerMsg): void;
  /**
   * list[from] … list[to - 1], in order, to one session: a run of a window's
   * notices (notice-batch.ts). Many sessions get runs of the same list, which
   * only grows between calls (a new window is a new list): encoded once, each run
   * is a slice of the same bytes.
   */
  sendRun(sid: number, list: readonly ServerMsg[], from: number, to: number): void;
  /** Close the session's link after what was sent so far is flushed. */
  close(sid: number): void;
  /**
   * Call fn once the session's link has room for more (at once if little is queued,
   * else when its queue is under the high-water mark), in a later callback, never
   * inside this call. Not called if the link is gone by then. Paces the offline
   * backlog (delivery.ts).
   */
  whenDrained(sid: number, fn: () => void): void;
}

/** Presence notices, sent in batches (notice-batch.ts). */
export interface Notices {
  /** `msg` for every session logged in here but those in `except`. */
  announce(msg: ServerMsg, except: readonly number[]): void;
}

export type HubConfig = {
  blockMs: number;
  timeoutMs: number;
  /** A connection that has not logged in by then is closed. */
  preLoginMs: number;
  /** Failed login attempts one connection may make before it is closed. */
  maxLoginAttempts: number;
  /** Offline messages kept per recipient. */
  maxMailbox: number;
  /** How hashed passwords are checked (default: Bun.password.verify, off the main thread). */
  verifyPassword?: PasswordVerifier;
};

export const DEFAULT_LIMITS = { preLoginMs: 120_000, maxLoginAttempts: 10, maxMailbox: 10_000 };

export type Session = {
  sid: number;
  host: string;
  /** The transport's own record of this connection (the server's Conn), opaque to the rules. */
  transport?: unknown;
  stage: "new" | "hello" | "in" | "gone";
  user?: string;
  attempts: number;
  /** The session's one timer: the pre-login limit, then (logged in) the inactivity deadline. */
  timer?: Timer;
  /** When `timer` falls due. */
  timerAt?: number;
  /** Last command (for the inactivity timeout). */
  lastActive?: number;
  /** The hub asked the transport to close this link: ignore whatever still arrives on it. */
  closing?: boolean;
  /** A request is waiting (a password hash, the store): what the connection sends meanwhile waits here, in order. */
  held?: ClientMsg[];
  /** Messages on their way to other servers, overlapping: their replies go out in order (pipeline.ts). */
  replies?: OrderedReplies;
  /** The directory entry of this session once logged in. */
  info?: SessionInfo;
  /** Protocol version from `hello`: 1 = offline messages leave the store when handed over, 2 and 3 = when acknowledged (3 adds compact frames, server.ts). */
  v?: number;
  /** Highest mailbox seq handed to this session's link (0: none). */
  sentSeq?: number;
  /** Highest seq this session acknowledged (version 2 and later). */
  ackedSeq?: number;
  /** Rows to read for the next backlog batch (delivery.ts sizes it from the last one). */
  batchRows?: number;
  /** The offline backlog is still being sent: new messages for this user queue behind it, in the mailbox. */
  draining?: boolean;
};

/** What servers of a cluster tell each other about users (routed.ts handles them on arrival). */
export type RoutedEvent =
  /** A direct message for `to`, who is logged in on the receiving server. */
  | { t: "dm"; to: string; from: string; text: string }
  /** A broadcast: every server shows it to its users but `from` and those in `skip` (who block `from`). */
  | { t: "bc"; from: string; text: string; skip: string[] }
  /**
   * `user` came or went on server `node`: shown to everyone but `user` and those in
   * `hide` (whom `user` blocks). `node` and `hide` also keep every server's OnlineMap.
   */
  | { t: "presence"; user: string; state: "in" | "out"; hide: string[]; node: string }
  /** `user`, logged in on server `node`, now blocks exactly `list` (after a block or unblock). */
  | { t: "blocks"; user: string; node: string; list: string[] };

/** How the hub reaches the other servers of a cluster (the cluster bus; absent alone). */
export interface Router {
  /** To server `node` only: "gone" if it is dead or left, "full" if its inbox is. */
  sendTo(node: string, event: RoutedEvent): Promise<"sent" | "gone" | "full">;
  /** To every server, this one included. */
  publish(event: RoutedEvent): Promise<void>;
  /** Is server `node` known dead (its sessions may be taken over)? */
  isGone(node: string): Promise<boolean>;
}

export type Req<T extends ClientMsg["t"]> = Extract<ClientMsg, { t: T }>;
export type Reply = Omit<Extract<ServerMsg, { t: "reply" }>, "t" | "id">;
export type MaybeReply = MaybePromise<Reply>;

/** The hub as its rule modules see it: shared state, and the few actions they may take. */
export interface HubContext {
  readonly accounts: Accounts;
  readonly presence: Presence;
  readonly directory: Directory;
  readonly files: FileIndex;
  readonly tokens: TokenStore;
  readonly store: Store;
  readonly clock: Clock;
  readonly cfg: HubConfig;
  readonly out: Outbox;
  /** Presence notices, batched per window; `out` goes through it (notice-batch.ts). */
  readonly notices: Notices;
  readonly log: Logger;
  /** This server's id in the directory ("" alone). */
  readonly node: string;
  /** The other servers of the cluster, if any. */
  readonly router?: Router;
  /** A cluster: who is logged in on the other servers, and whom they block (online-map.ts). */
  readonly elsewhere?: OnlineMap;
  /** Ask the transport to close the session's link; nothing it sends afterwards counts. */
  drop(s: Session): void;
  /** The directory entry a login of `user` on session `s` claims (with the peer listener's port and certificate fingerprint). */
  sessionInfo(s: Session, user: string, peerPort: number | undefined, peerCert: string | undefined): SessionInfo;
  /** Before a claimed login enters: load what this server keeps of `user` while they are here. */
  prepare(user: string): MaybePromise<void>;
  /** The login did not enter after all: forget what prepare() kept. */
  unprepare(user: string): void;
  /** A successful login whose session was claimed: the session becomes `user`'s. */
  enter(s: Session, user: string, info: SessionInfo): void;
  /** Is the session still sending its offline backlog (so new messages must queue behind it)? */
  isDraining(sid: number): boolean;
}
