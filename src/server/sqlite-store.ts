/**
 * The durable store: offline mailbox and block lists in one SQLite file (WAL).
 * Every write is committed before the call returns, so a "stored" reply is only
 * sent once the message is on disk (SPEC §8).
 */
import { Database } from "bun:sqlite";
import type { BlockList, Mailbox, Store, StoredMessage } from "./store.ts";

/** Bumped when the tables change; a newer file is refused rather than misread. */
const SCHEMA_VERSION = 1;

/** Open (or create) the store. Throws with a one-line reason (not a database, newer schema, ...). */
export function sqliteStore(path: string): Store {
  const db = new Database(path, { create: true, strict: true });
  try {
    return openStore(db);
  } catch (e) {
    db.close();
    throw e;
  }
}

function openStore(db: Database): Store {
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

  const put = db.prepare("INSERT INTO mailbox (recipient, sender, body, at) VALUES ($r, $s, $b, $a)");
  const select = db.prepare<{ sender: string; body: string; at: number }, { r: string }>(
    "SELECT sender, body, at FROM mailbox WHERE recipient = $r ORDER BY seq",
  );
  const del = db.prepare("DELETE FROM mailbox WHERE recipient = $r");
  const count = db.prepare<{ n: number }, { r: string }>("SELECT count(*) AS n FROM mailbox WHERE recipient = $r");
  const take = db.transaction((r: string) => {
    const rows = select.all({ r });
    del.run({ r });
    return rows;
  });

  const mailbox: Mailbox = {
    put(to: string, m: StoredMessage) {
      put.run({ r: to, s: m.from, b: m.text, a: m.at });
    },
    takeAll(to: string) {
      return take(to).map((row) => ({ from: row.sender, text: row.body, at: row.at }));
    },
    count(to: string) {
      return count.get({ r: to })?.n ?? 0;
    },
  };

  const add = db.prepare("INSERT OR IGNORE INTO blocks (blocker, blocked) VALUES ($a, $b)");
  const remove = db.prepare("DELETE FROM blocks WHERE blocker = $a AND blocked = $b");
  // Block checks sit on every message's path: keep a memory index (blocker → blocked),
  // write through to disk.
  const index = new Map<string, Set<string>>();
  const indexAdd = (a: string, b: string) => {
    let set = index.get(a);
    if (!set) index.set(a, (set = new Set()));
    set.add(b);
  };
  for (const row of db.query<{ blocker: string; blocked: string }, []>("SELECT blocker, blocked FROM blocks").all()) {
    indexAdd(row.blocker, row.blocked);
  }
  const blocks: BlockList = {
    has: (a, b) => index.get(a)?.has(b) ?? false,
    blockedBy: (a) => index.get(a),
    add(a, b) {
      if (index.get(a)?.has(b)) return false;
      add.run({ a, b });
      indexAdd(a, b);
      return true;
    },
    remove(a, b) {
      if (!index.get(a)?.delete(b)) return false;
      remove.run({ a, b });
      return true;
    },
  };

  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    db.close(); // checkpoints the WAL into the main file
  };
  return { mailbox, blocks, close };
}
