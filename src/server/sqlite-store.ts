/**
 * The durable store: offline mailbox and block lists in one SQLite file (WAL).
 * Every write is committed before the call returns, so a "stored" reply is only
 * sent once the message is on disk (behaviour.md §8). A failing statement (disk full,
 * read-only file, I/O error) surfaces as a StoreError with a one-line reason.
 */
import { Database } from "bun:sqlite";
import { chmodSync, closeSync, openSync } from "node:fs";
import { StoreError, type LocalBlockList, type LocalMailbox, type LocalStore, type QueuedMessage, type StoredMessage } from "./store.ts";

/**
 * Bumped when the tables change; a newer file is refused rather than misread.
 * Schema 1 already numbers every message (`seq INTEGER PRIMARY KEY AUTOINCREMENT`,
 * increasing and never reused), which is all acknowledged delivery needs: a file
 * written before acks existed is used as it is.
 */
const SCHEMA_VERSION = 1;

/** Open (or create) the store. Throws with a one-line reason (not a database, newer schema, ...). */
export function sqliteStore(path: string): LocalStore {
  if (path !== ":memory:") createPrivate(path);
  const db = new Database(path, { create: true, strict: true });
  try {
    return openStore(db);
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * The file holds everyone's messages: readable by the server's user only (0600),
 * whatever the umask. SQLite gives its -wal and -shm files the main file's mode.
 * An existing file keeps the mode its owner gave it.
 */
function createPrivate(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return;
    throw new Error((e as NodeJS.ErrnoException).code ?? (e as Error).message);
  }
  try {
    chmodSync(path, 0o600); // exactly 0600, even if an odd umask took the owner's bits away
  } finally {
    closeSync(fd);
  }
}

/** Run a statement; a SQLite failure becomes a StoreError naming what failed. */
function guarded<A extends unknown[], R>(what: string, fn: (...args: A) => R): (...args: A) => R {
  return (...args: A) => {
    try {
      return fn(...args);
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new StoreError(`${what}: ${code ? `${code} ` : ""}${(e as Error).message}`);
    }
  };
}

function openStore(db: Database): LocalStore {
  const version = db.query<{ user_version: number }, []>("PRAGMA user_version").get()?.user_version ?? 0;
  if (version > SCHEMA_VERSION) {
    throw new Error(`written by a newer server (schema ${version}, this server knows ${SCHEMA_VERSION})`);
  }
  db.run("PRAGMA journal_mode = WAL");
  // FULL: a committed transaction survives power loss, not only a process kill.
  db.run("PRAGMA synchronous = FULL");
  db.run("PRAGMA busy_timeout = 5000");
  db.run(`CREATE TABLE IF NOT EXISTS mailbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient TEXT NOT NULL, sender TEXT NOT NULL, body TEXT NOT NULL, at INTEGER NOT NULL)`);
  db.run("CREATE INDEX IF NOT EXISTS mailbox_recipient ON mailbox (recipient, seq)");
  db.run(`CREATE TABLE IF NOT EXISTS blocks (
    blocker TEXT NOT NULL, blocked TEXT NOT NULL, PRIMARY KEY (blocker, blocked)) WITHOUT ROWID`);
  db.run(`PRAGMA user_version = ${SCHEMA_VERSION}`);

  const blocks = blockList(db);
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    db.close(); // checkpoints the WAL into the main file
  };
  return { mailbox: mailbox(db), blocks, close };
}

function mailbox(db: Database): LocalMailbox {
  const put = db.prepare("INSERT INTO mailbox (recipient, sender, body, at) VALUES ($r, $s, $b, $a)");
  const peek = db.prepare<{ seq: number; sender: string; body: string; at: number }, { r: string; after: number; n: number }>(
    "SELECT seq, sender, body, at FROM mailbox WHERE recipient = $r AND seq > $after ORDER BY seq LIMIT $n",
  );
  const ack = db.prepare("DELETE FROM mailbox WHERE recipient = $r AND seq <= $upTo");
  const count = db.prepare<{ n: number }, { r: string }>("SELECT count(*) AS n FROM mailbox WHERE recipient = $r");
  return {
    put: guarded("store message", (to: string, m: StoredMessage) => {
      return Number(put.run({ r: to, s: m.from, b: m.text, a: m.at }).lastInsertRowid);
    }),
    peek: guarded("read mailbox", (to: string, afterSeq: number, limit: number): QueuedMessage[] => {
      return peek.all({ r: to, after: afterSeq, n: limit }).map((row) => ({ from: row.sender, text: row.body, at: row.at, seq: row.seq }));
    }),
    // A deletion need not wait for the disk (synchronous NORMAL: in WAL mode it still
    // survives a killed process, and the next FULL commit syncs it along): if power
    // fails first, those messages are only delivered again. A `put` still waits.
    // With FULL, the acks of a 100 000-message backlog were a thousand fsyncs.
    ack: guarded("delete acknowledged messages", (to: string, upToSeq: number) => {
      db.run("PRAGMA synchronous = NORMAL");
      try {
        ack.run({ r: to, upTo: upToSeq });
      } finally {
        db.run("PRAGMA synchronous = FULL");
      }
    }),
    count: guarded("count mailbox", (to: string) => count.get({ r: to })?.n ?? 0),
  };
}

function blockList(db: Database): LocalBlockList {
  const add = db.prepare("INSERT OR IGNORE INTO blocks (blocker, blocked) VALUES ($a, $b)");
  const remove = db.prepare("DELETE FROM blocks WHERE blocker = $a AND blocked = $b");
  // Block checks sit on every message's path: keep a memory index (blocker → blocked),
  // write through to disk. The index changes only once the disk has.
  const index = new Map<string, Set<string>>();
  const indexAdd = (a: string, b: string) => {
    let set = index.get(a);
    if (!set) index.set(a, (set = new Set()));
    set.add(b);
  };
  for (const row of db.query<{ blocker: string; blocked: string }, []>("SELECT blocker, blocked FROM blocks").all()) {
    indexAdd(row.blocker, row.blocked);
  }
  const addRow = guarded("store block", (a: string, b: string) => add.run({ a, b }));
  const removeRow = guarded("remove block", (a: string, b: string) => remove.run({ a, b }));
  return {
    has: (a, b) => index.get(a)?.has(b) ?? false,
    blockedBy: (a) => index.get(a),
    add(a, b) {
      if (index.get(a)?.has(b)) return false;
      addRow(a, b);
      indexAdd(a, b);
      return true;
    },
    remove(a, b) {
      if (!index.get(a)?.has(b)) return false;
      removeRow(a, b);
      index.get(a)!.delete(b);
      return true;
    },
  };
}
