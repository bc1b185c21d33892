import { afterEach, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { Database } from "bun:sqlite";
import { existsSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sqliteStore } from "../../src/server/sqlite-store.ts";
import { memoryStore, type LocalStore as Store, type StoredMessage } from "../../src/server/store.ts";

/** Temp database files made by this run, removed (with their WAL and SHM files) after each test. */
let temps: { path: string; stores: Store[] }[] = [];
function tempStore(): { store: Store; path: string; reopen(): Store } {
  const path = join(tmpdir(), `termchat-test-${process.pid}-${randomBytes(6).toString("hex")}.sqlite`);
  const entry = { path, stores: [] as Store[] };
  temps.push(entry);
  const open = () => {
    const s = sqliteStore(path);
    entry.stores.push(s);
    return s;
  };
  return { store: open(), path, reopen: open };
}
afterEach(() => {
  for (const { path, stores } of temps) {
    for (const s of stores) {
      try {
        s.close();
      } catch {
        // already closed by the test
      }
    }
    for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(path + suffix, { force: true });
    expect(existsSync(path)).toBe(false);
  }
  temps = [];
});

/** Everything waiting for `to`, oldest first, then acknowledged (the delivery of an older server, in one step). */
function takeAll(s: Store, to: string): StoredMessage[] {
  const got = s.mailbox.peek(to, 0, 1_000_000);
  if (got.length > 0) s.mailbox.ack(to, got[got.length - 1]!.seq);
  return got.map(({ from, text, at }) => ({ from, text, at }));
}

/** The Mailbox and BlockList contract, run against every Store implementation. */
function storeContract(name: string, make: () => Store) {
  describe(`${name}: mailbox`, () => {
    test("empty mailbox: count 0, takeAll []", () => {
      const s = make();
      expect(s.mailbox.count("hans")).toBe(0);
      expect(takeAll(s, "hans")).toEqual([]);
    });

    test("put then takeAll returns the messages oldest first, exactly, and empties the box", () => {
      const s = make();
      s.mailbox.put("hans", { from: "yoda", text: "first", at: 1000 });
      s.mailbox.put("hans", { from: "luke", text: "second", at: 2000 });
      s.mailbox.put("hans", { from: "yoda", text: "third", at: 1500 }); // order of put, not of `at`
      expect(s.mailbox.count("hans")).toBe(3);
      expect(takeAll(s, "hans")).toEqual([
        { from: "yoda", text: "first", at: 1000 },
        { from: "luke", text: "second", at: 2000 },
        { from: "yoda", text: "third", at: 1500 },
      ]);
      expect(s.mailbox.count("hans")).toBe(0);
      expect(takeAll(s, "hans")).toEqual([]);
    });

    test("mailboxes are per recipient", () => {
      const s = make();
      s.mailbox.put("hans", { from: "yoda", text: "for hans", at: 1 });
      s.mailbox.put("luke", { from: "yoda", text: "for luke 1", at: 2 });
      s.mailbox.put("luke", { from: "hans", text: "for luke 2", at: 3 });
      expect(s.mailbox.count("hans")).toBe(1);
      expect(s.mailbox.count("luke")).toBe(2);
      expect(s.mailbox.count("yoda")).toBe(0);
      expect(takeAll(s, "luke")).toEqual([
        { from: "yoda", text: "for luke 1", at: 2 },
        { from: "hans", text: "for luke 2", at: 3 },
      ]);
      expect(s.mailbox.count("hans")).toBe(1);
      expect(takeAll(s, "hans")).toEqual([{ from: "yoda", text: "for hans", at: 1 }]);
    });

    test("texts come back byte for byte: unicode, quotes, newlines, NUL, empty, 4096 bytes", () => {
      const s = make();
      const texts = ["héllo 😀 漢字", "it's \"quoted\"; DROP TABLE mailbox;--", "line1\nline2\r\n", "nul\u0000inside", "", "é".repeat(2048)];
      for (const [i, text] of texts.entries()) s.mailbox.put("hans", { from: "yoda", text, at: i });
      expect(takeAll(s, "hans").map((m) => m.text)).toEqual(texts);
    });

    test("a large timestamp survives", () => {
      const s = make();
      const at = 1_750_000_000_123;
      s.mailbox.put("hans", { from: "yoda", text: "x", at });
      expect(takeAll(s, "hans")).toEqual([{ from: "yoda", text: "x", at }]);
    });

    test("put after takeAll starts a fresh box, still in order", () => {
      const s = make();
      s.mailbox.put("hans", { from: "a", text: "1", at: 1 });
      takeAll(s, "hans");
      s.mailbox.put("hans", { from: "b", text: "2", at: 2 });
      s.mailbox.put("hans", { from: "c", text: "3", at: 3 });
      expect(takeAll(s, "hans").map((m) => m.text)).toEqual(["2", "3"]);
    });

    test("many messages keep their order", () => {
      const s = make();
      for (let i = 0; i < 500; i++) s.mailbox.put("hans", { from: `u${i % 7}`, text: `m${i}`, at: i });
      expect(s.mailbox.count("hans")).toBe(500);
      const got = takeAll(s, "hans");
      expect(got.map((m) => m.text)).toEqual(Array.from({ length: 500 }, (_, i) => `m${i}`));
      expect(got[499]).toEqual({ from: "u2", text: "m499", at: 499 });
    });
  });

  describe(`${name}: acknowledged delivery (seq, peek, ack)`, () => {
    const m = (text: string) => ({ from: "yoda", text, at: 7 });

    test("put returns seqs that increase per recipient, interleaved or not; peek shows the same seqs", () => {
      const s = make();
      const h1 = s.mailbox.put("hans", m("h1"));
      const l1 = s.mailbox.put("luke", m("l1"));
      const h2 = s.mailbox.put("hans", m("h2"));
      const h3 = s.mailbox.put("hans", m("h3"));
      expect(h1).toBeLessThan(h2);
      expect(h2).toBeLessThan(h3);
      expect(s.mailbox.peek("hans", 0, 10)).toEqual([
        { ...m("h1"), seq: h1 },
        { ...m("h2"), seq: h2 },
        { ...m("h3"), seq: h3 },
      ]);
      expect(s.mailbox.peek("luke", 0, 10)).toEqual([{ ...m("l1"), seq: l1 }]);
    });

    test("peek pages by afterSeq and limit, oldest first, and removes nothing", () => {
      const s = make();
      const seqs = Array.from({ length: 10 }, (_, i) => s.mailbox.put("hans", m(`t${i}`)));
      expect(s.mailbox.peek("hans", 0, 3).map((x) => x.text)).toEqual(["t0", "t1", "t2"]);
      expect(s.mailbox.peek("hans", seqs[2]!, 3).map((x) => x.text)).toEqual(["t3", "t4", "t5"]);
      expect(s.mailbox.peek("hans", seqs[8]!, 3).map((x) => x.text)).toEqual(["t9"]);
      expect(s.mailbox.peek("hans", seqs[9]!, 3)).toEqual([]);
      expect(s.mailbox.peek("nobody", 0, 3)).toEqual([]);
      expect(s.mailbox.count("hans")).toBe(10);
    });

    test("ack removes that recipient's messages up to upTo and nothing else", () => {
      const s = make();
      const seqs = Array.from({ length: 5 }, (_, i) => s.mailbox.put("hans", m(`t${i}`)));
      s.mailbox.put("luke", m("keep"));
      s.mailbox.ack("hans", seqs[1]!);
      expect(s.mailbox.peek("hans", 0, 10).map((x) => x.text)).toEqual(["t2", "t3", "t4"]);
      s.mailbox.ack("hans", seqs[0]!); // backwards: nothing
      expect(s.mailbox.count("hans")).toBe(3);
      s.mailbox.ack("hans", seqs[4]! + 1000);
      expect(s.mailbox.count("hans")).toBe(0);
      expect(s.mailbox.count("luke")).toBe(1);
      s.mailbox.ack("nobody", 1_000_000);
    });

    test("seqs are never reused: a put after everything was acked gets a larger one", () => {
      const s = make();
      const a = s.mailbox.put("hans", m("a"));
      s.mailbox.ack("hans", a);
      const b = s.mailbox.put("hans", m("b"));
      expect(b).toBeGreaterThan(a);
      expect(s.mailbox.peek("hans", 0, 10)).toEqual([{ ...m("b"), seq: b }]);
    });
  });

  describe(`${name}: blocks`, () => {
    test("add, has, remove with their return values", () => {
      const s = make();
      expect(s.blocks.has("hans", "yoda")).toBe(false);
      expect(s.blocks.add("hans", "yoda")).toBe(true);
      expect(s.blocks.has("hans", "yoda")).toBe(true);
      expect(s.blocks.add("hans", "yoda")).toBe(false);
      expect(s.blocks.remove("hans", "yoda")).toBe(true);
      expect(s.blocks.has("hans", "yoda")).toBe(false);
      expect(s.blocks.remove("hans", "yoda")).toBe(false);
      expect(s.blocks.add("hans", "yoda")).toBe(true); // again after removal
      expect(s.blocks.has("hans", "yoda")).toBe(true);
    });

    test("blocking is one-way", () => {
      const s = make();
      s.blocks.add("hans", "yoda");
      expect(s.blocks.has("yoda", "hans")).toBe(false);
      expect(s.blocks.remove("yoda", "hans")).toBe(false);
      expect(s.blocks.has("hans", "yoda")).toBe(true);
    });

    test("one blocker may block many, and removing one keeps the others", () => {
      const s = make();
      for (const u of ["yoda", "luke", "vader"]) expect(s.blocks.add("hans", u)).toBe(true);
      expect(s.blocks.add("luke", "yoda")).toBe(true);
      expect(s.blocks.remove("hans", "luke")).toBe(true);
      expect(["yoda", "luke", "vader"].map((u) => s.blocks.has("hans", u))).toEqual([true, false, true]);
      expect(s.blocks.has("luke", "yoda")).toBe(true);
    });

    test("names that could collide when joined stay distinct", () => {
      const s = make();
      s.blocks.add("ab", "c");
      expect(s.blocks.has("a", "bc")).toBe(false);
      expect(s.blocks.has("ab", "c")).toBe(true);
    });

    test("remove of a pair never added is false and changes nothing", () => {
      const s = make();
      expect(s.blocks.remove("nobody", "none")).toBe(false);
      expect(s.blocks.has("nobody", "none")).toBe(false);
    });
  });
}

storeContract("memoryStore", () => memoryStore());
storeContract("sqliteStore (file)", () => tempStore().store);
storeContract("sqliteStore (:memory:)", () => sqliteStore(":memory:"));

describe("sqliteStore durability", () => {
  test("seqs survive a reopen and keep increasing, even after everything was acknowledged", () => {
    const t = tempStore();
    const a = t.store.mailbox.put("hans", { from: "yoda", text: "a", at: 1 });
    const b = t.store.mailbox.put("hans", { from: "yoda", text: "b", at: 2 });
    t.store.mailbox.ack("hans", a);
    t.store.close();
    const again = t.reopen();
    expect(again.mailbox.peek("hans", 0, 10)).toEqual([{ from: "yoda", text: "b", at: 2, seq: b }]);
    again.mailbox.ack("hans", b);
    again.close();
    const third = t.reopen();
    expect(third.mailbox.put("hans", { from: "yoda", text: "c", at: 3 })).toBeGreaterThan(b);
  });

  test("a file written before acknowledged delivery (schema 1, written by hand here) is read as it is, with its seqs", () => {
    const path = join(tmpdir(), `termchat-test-${process.pid}-${randomBytes(6).toString("hex")}.sqlite`);
    temps.push({ path, stores: [] });
    const old = new Database(path, { create: true });
    old.run("PRAGMA journal_mode = WAL");
    old.run(`CREATE TABLE mailbox (seq INTEGER PRIMARY KEY AUTOINCREMENT,
      recipient TEXT NOT NULL, sender TEXT NOT NULL, body TEXT NOT NULL, at INTEGER NOT NULL)`);
    old.run("CREATE INDEX mailbox_recipient ON mailbox (recipient, seq)");
    old.run("CREATE TABLE blocks (blocker TEXT NOT NULL, blocked TEXT NOT NULL, PRIMARY KEY (blocker, blocked)) WITHOUT ROWID");
    old.run("PRAGMA user_version = 1");
    old.run("INSERT INTO mailbox (recipient, sender, body, at) VALUES ('hans', 'yoda', 'old 1', 1), ('hans', 'luke', 'old 2', 2)");
    old.close();
    const s = sqliteStore(path);
    temps.at(-1)!.stores.push(s);
    expect(s.mailbox.peek("hans", 0, 10)).toEqual([
      { from: "yoda", text: "old 1", at: 1, seq: 1 },
      { from: "luke", text: "old 2", at: 2, seq: 2 },
    ]);
    expect(s.mailbox.put("hans", { from: "yoda", text: "new", at: 3 })).toBe(3);
  });

  test("a new file is created with mode 0600 even under a permissive umask; its WAL gets the same mode", () => {
    const old = process.umask(0);
    try {
      const { store, path } = tempStore();
      store.mailbox.put("hans", { from: "yoda", text: "x", at: 1 });
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(statSync(`${path}-wal`).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(old);
    }
  });
  test("the file is created", () => {
    const { path } = tempStore();
    expect(existsSync(path)).toBe(true);
  });

  test("mailbox and blocks survive closing and reopening the file", () => {
    const t = tempStore();
    t.store.mailbox.put("hans", { from: "yoda", text: "first", at: 10 });
    t.store.mailbox.put("hans", { from: "luke", text: "second", at: 20 });
    t.store.mailbox.put("luke", { from: "hans", text: "for luke", at: 30 });
    t.store.blocks.add("hans", "vader");
    t.store.blocks.add("yoda", "hans");
    t.store.close();

    const again = t.reopen();
    expect(again.mailbox.count("hans")).toBe(2);
    expect(again.blocks.has("hans", "vader")).toBe(true);
    expect(again.blocks.has("yoda", "hans")).toBe(true);
    expect(again.blocks.has("vader", "hans")).toBe(false);
    expect(again.blocks.add("hans", "vader")).toBe(false); // the reloaded index knows it
    expect(takeAll(again, "hans")).toEqual([
      { from: "yoda", text: "first", at: 10 },
      { from: "luke", text: "second", at: 20 },
    ]);
    // Order continues after a reopen: new messages come after the old ones.
    again.mailbox.put("luke", { from: "yoda", text: "after reopen", at: 40 });
    expect(takeAll(again, "luke").map((m) => m.text)).toEqual(["for luke", "after reopen"]);
  });

  test("takeAll and remove are durable too", () => {
    const t = tempStore();
    t.store.mailbox.put("hans", { from: "yoda", text: "gone soon", at: 1 });
    t.store.blocks.add("hans", "yoda");
    t.store.blocks.add("hans", "luke");
    t.store.close();

    const second = t.reopen();
    expect(takeAll(second, "hans").length).toBe(1);
    expect(second.blocks.remove("hans", "yoda")).toBe(true);
    second.close();

    const third = t.reopen();
    expect(third.mailbox.count("hans")).toBe(0);
    expect(takeAll(third, "hans")).toEqual([]);
    expect(third.blocks.has("hans", "yoda")).toBe(false);
    expect(third.blocks.has("hans", "luke")).toBe(true);
  });

  test("writes are visible to a second connection before the first one closes (committed on return)", () => {
    const t = tempStore();
    t.store.mailbox.put("hans", { from: "yoda", text: "on disk", at: 5 });
    t.store.blocks.add("luke", "vader");
    const other = t.reopen();
    expect(other.mailbox.count("hans")).toBe(1);
    expect(other.blocks.has("luke", "vader")).toBe(true);
  });

  test(":memory: keeps nothing between opens", () => {
    const a = sqliteStore(":memory:");
    a.mailbox.put("hans", { from: "yoda", text: "x", at: 1 });
    a.blocks.add("hans", "yoda");
    a.close();
    const b = sqliteStore(":memory:");
    expect(b.mailbox.count("hans")).toBe(0);
    expect(b.blocks.has("hans", "yoda")).toBe(false);
    b.close();
  });
});
