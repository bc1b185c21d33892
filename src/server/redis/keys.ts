/**
 * Every Redis key and channel of the cluster (docs/scaling.md "Keys"), built in one
 * place so no two modules spell one differently.
 *
 * A user's keys share the hash tag `{u:<name>}`, a node's keys `{n:<id>}`: in a
 * Redis Cluster all keys of one user (or one node) land in the same slot, so a Lua
 * script may touch several of them (a script's keys must all be in one slot).
 * Names are percent-encoded (encodeURIComponent) so a username holding `{`, `}`,
 * `:` or spaces can neither break the hash tag nor make two users' keys collide.
 */
const PREFIX = "tc:";
const tag = (s: string) => encodeURIComponent(s);

const user = (name: string) => `${PREFIX}{u:${tag(name)}}:`;
const node = (id: string) => `${PREFIX}{n:${tag(id)}}:`;

export const keys = {
  /** String: who holds the user's session, "<node>|<sid>|<since ms>" (CLAIM_SESSION). */
  session: (name: string) => user(name) + "session",
  /** Integer: consecutive failed logins (LOGIN_FAILURE). */
  fails: (name: string) => user(name) + "fails",
  /** String: ms timestamp the lockout ends, with a matching PX (LOGIN_FAILURE). */
  locked: (name: string) => user(name) + "locked",
  /** Stream: offline messages, entry id "<seq>-0", one field `m` (JSON {from,text,at}). */
  mailbox: (name: string) => user(name) + "mbox",
  /** Integer: the last seq given out for the user's mailbox; never reset, so seqs are never reused. */
  mailboxSeq: (name: string) => user(name) + "mseq",
  /** Set: the users this user blocks. */
  blocks: (name: string) => user(name) + "blocks",
  /** Sorted set: this caller's outstanding peer tokens by expiry (the per-caller budget). */
  tokensOf: (name: string) => user(name) + "toks",
  /** Set: the files this user holds chunks of (dropped at logout). */
  filesOf: (name: string) => user(name) + "files",
  /** Integer: registry bytes charged to this user (files.ts cost model). */
  fileBytesOf: (name: string) => user(name) + "fbytes",
  /** String with PX: one peer token, "<caller>|<callee>|<expires ms>". */
  token: (token: string) => `${PREFIX}{t:${tag(token)}}:tok`,
  /** Hash: a shared file's size and chunk hashes (`h`: JSON), and its cost (`c`). */
  fileMeta: (name: string) => `${PREFIX}{f:${tag(name)}}:meta`,
  /** Hash: a shared file's holders, user → JSON list of the chunks they hold. */
  fileHolders: (name: string) => `${PREFIX}{f:${tag(name)}}:holders`,
  /** Integer: registry bytes in all (files.ts cost model). */
  fileBytes: () => `${PREFIX}fbytes`,
  /** Set: everyone online, on any node. */
  online: () => `${PREFIX}online`,
  /** Set: the users online on this node. */
  nodeUsers: (id: string) => node(id) + "users",
  /** Stream: messages routed to users on this node (read by that node with XREAD BLOCK). */
  nodeInbox: (id: string) => node(id) + "inbox",
  /** String with PX: the node is alive while this exists (heartbeat). */
  nodeAlive: (id: string) => node(id) + "alive",
  /** Sorted set: node id → last heartbeat (ms). One key for the whole cluster. */
  nodes: () => `${PREFIX}nodes`,
  /** Sorted set: user → when their last session ended (ms), for whoelsesince. */
  lastSeen: () => `${PREFIX}lastseen`,
  /** Stream: cluster-wide events every node reads (broadcasts, presence changes). */
  events: () => `${PREFIX}events`,
} as const;

/** Pub/sub channel that wakes node `id` (only a wake-up: the data is in a stream). */
export const nodeChannel = (id: string) => `${PREFIX}wake:${tag(id)}`;
