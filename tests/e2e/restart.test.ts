/**
 * behaviour.md §8 durability: offline messages and block lists live in the SQLite store
 * (--store) and survive both a kill -9 and a clean stop of the server. A message
 * whose sender was told "stored" is on disk before that reply: the server is
 * killed the instant the reply is shown.
 */
import { afterEach, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, CREDENTIALS, loginClient, runToEnd, SERVER_BIN, startServer, tempDir } from "./harness.ts";
import { expectReply, exitCode } from "./helpers.ts";

afterEach(cleanup);

const STORED = (u: string) => `${u} is offline. Your message will be delivered when they log in`;
const BLOCKED_YOU = "Your message could not be delivered as the recipient has blocked you";

/** Messages to offline yoda, and yoda's block of vader, in the store; then the server dies as `how`. */
async function fillThenStop(store: string, how: "SIGKILL" | "SIGTERM"): Promise<void> {
  const srv = await startServer({ store });
  const yoda = await loginClient(srv.port, "yoda");
  await expectReply(yoda, "block vader", "vader is blocked");
  yoda.send("logout");
  await yoda.out.waitFor("Goodbye");
  expect(await exitCode(yoda.proc)).toBe(0);

  const hans = await loginClient(srv.port, "hans");
  const vader = await loginClient(srv.port, "vader");
  await expectReply(vader, "message yoda you will not see this", BLOCKED_YOU);
  for (let i = 1; i <= 5; i++) {
    hans.send(`message yoda offline ${i} — ünïcødé ${"·".repeat(i)}`);
    await hans.out.waitFor(STORED("yoda"));
  }
  // The last "stored" has just been shown: stop now, with nothing flushed on purpose.
  srv.proc.kill(how);
  expect(await srv.proc.exited).toBe(how === "SIGKILL" ? 137 : 0);
  if (how === "SIGKILL") expect(srv.proc.signalCode).toBe("SIGKILL");
  await hans.out.waitFor("Connection to server lost");
}

/** Start on the same store: yoda gets every message once, in order, and the block still holds. */
async function checkAfterRestart(store: string): Promise<void> {
  const srv = await startServer({ store });
  const yoda = await loginClient(srv.port, "yoda");
  const offline: string[] = [];
  for (let i = 1; i <= 5; i++) offline.push(await yoda.out.waitFor(/^hans: /));
  expect(offline).toEqual([1, 2, 3, 4, 5].map((i) => `hans: offline ${i} — ünïcødé ${"·".repeat(i)}`));
  await expectReply(yoda, "block vader", "Error. vader is already blocked");
  expect(yoda.out.seen.filter((l) => /^(hans|vader): /.test(l))).toHaveLength(5);

  const vader = await loginClient(srv.port, "vader");
  await expectReply(vader, "message yoda still blocked?", BLOCKED_YOU);

  // Delivered once: after another login, nothing is replayed.
  yoda.send("logout");
  await yoda.out.waitFor("Goodbye");
  const again = await loginClient(srv.port, "yoda");
  await expectReply(again, "whoelse", "vader");
  expect(again.out.seen.filter((l) => /^(hans|vader): /.test(l))).toEqual([]);
}

test("kill -9: offline messages arrive once, in order, and the block holds after restart", async () => {
  const store = join(tempDir(), "state.sqlite");
  await fillThenStop(store, "SIGKILL");
  expect(existsSync(`${store}-wal`)).toBe(true); // killed: the WAL was never checkpointed
  await checkAfterRestart(store);
}, 30_000);

test("clean stop (SIGTERM): the same survives", async () => {
  const store = join(tempDir(), "state.sqlite");
  await fillThenStop(store, "SIGTERM");
  await checkAfterRestart(store);
}, 30_000);

test("--store :memory: keeps nothing across a restart", async () => {
  const srv = await startServer({ store: ":memory:" });
  const hans = await loginClient(srv.port, "hans");
  hans.send("message yoda lost on restart");
  await hans.out.waitFor(STORED("yoda"));
  srv.proc.kill("SIGKILL");
  await srv.proc.exited;
  const srv2 = await startServer({ store: ":memory:" });
  const yoda = await loginClient(srv2.port, "yoda");
  await expectReply(yoda, "whoelse", "No other users online");
  expect(yoda.out.seen.some((l) => l.startsWith("hans: "))).toBe(false);
});

test("a store file that is not a database: one clear line, exit 1", async () => {
  const store = join(tempDir(), "junk.sqlite");
  writeFileSync(store, "this is not a SQLite database, only some text that is long enough to look like a header ".repeat(20));
  const r = await runToEnd([SERVER_BIN, "65000", "1", "1", "--credentials", CREDENTIALS, "--store", store]);
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split("\n")).toEqual([`error: cannot open store ${store}: file is not a database`]);
});
