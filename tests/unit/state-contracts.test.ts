/** The state contracts (tests/contract/contracts.ts) against the memory and SQLite implementations. */
import { afterAll } from "bun:test";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CachedBlocks } from "../../src/server/cached-blocks.ts";
import { FileRegistry } from "../../src/server/files.ts";
import { MemoryDirectory, MemoryLockout } from "../../src/server/memory-state.ts";
import { PeerTokens } from "../../src/server/peertokens.ts";
import { sqliteStore } from "../../src/server/sqlite-store.ts";
import { MemoryBlockList, MemoryMailbox, type LocalStore } from "../../src/server/store.ts";
import { blockListContract, directoryContract, fileIndexContract, LOCK_MS, lockoutContract, mailboxContract, tokenContract } from "../contract/contracts.ts";

mailboxContract("memory", () => new MemoryMailbox());
blockListContract("memory", () => new MemoryBlockList());
lockoutContract("memory", (clock) => new MemoryLockout(clock, LOCK_MS));
directoryContract("memory", () => new MemoryDirectory());
tokenContract("memory", (clock) => new PeerTokens(clock));
fileIndexContract("memory", () => new FileRegistry());
// A cluster server's cache in front of the store: for users not loaded (read through), and for a loaded one.
blockListContract("cached, nobody loaded", () => new CachedBlocks(new MemoryBlockList()));
blockListContract("cached, the blocker loaded", async () => {
  const c = new CachedBlocks(new MemoryBlockList());
  await c.load("amy");
  return c;
});

const opened: { store: LocalStore; path: string }[] = [];
let n = 0;
function sqlite(): LocalStore {
  const path = join(tmpdir(), `termchat-contract-${process.pid}-${n++}.sqlite`);
  const store = sqliteStore(path);
  opened.push({ store, path });
  return store;
}
afterAll(() => {
  for (const { store, path } of opened) {
    store.close();
    for (const ext of ["", "-wal", "-shm"]) rmSync(path + ext, { force: true });
  }
});
mailboxContract("SQLite", () => sqlite().mailbox);
blockListContract("SQLite", () => sqlite().blocks);
