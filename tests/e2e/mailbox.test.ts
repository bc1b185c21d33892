/**
 * behaviour.md §5, §8 through the compiled programs: offline messages leave the store only
 * when the client acknowledges them, so a connection reset or a killed server
 * loses none; the backlog is paced (a recipient that does not read costs the
 * server little); a store that cannot write is an error reply; the store file is
 * private (0600).
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAX_TEXT_BYTES, type ServerMsg } from "../../src/protocol/messages.ts";
import { sqliteStore } from "../../src/server/sqlite-store.ts";
import { cleanup, loginClient, PASSWORDS, startServer, tempDir } from "./harness.ts";
import { expectReply, mountTmpfs, unmountTmpfs } from "./helpers.ts";
import { closeAllRaw, RawConn, rssBytes } from "./rawconn.ts";

afterEach(async () => {
  closeAllRaw();
  await cleanup();
});

type Msg = Extract<ServerMsg, { t: "msg" }>;
const STORAGE_FAILURE = "Error. Server storage failure, please try again later";
const text = (i: number) => `offline ${String(i).padStart(5, "0")}`;

/** A store file holding `n` messages from hans to yoda (through the project's own store, before any server runs). */
function prefill(n: number, body: (i: number) => string = text): string {
  const path = join(tempDir(), "state.sqlite");
  const store = sqliteStore(path);
  for (let i = 1; i <= n; i++) store.mailbox.put("yoda", { from: "hans", text: body(i), at: i });
  store.close();
  return path;
}

/** Offline messages a raw connection has received so far. */
const offline = (c: RawConn<ServerMsg>) => c.received.filter((m): m is Msg => m.t === "msg" && m.kind === "offline");

/** Log yoda in with the real client and collect the `hans: ...` lines until `last`. */
async function showAll(port: number, last: string): Promise<string[]> {
  const yoda = await loginClient(port, "yoda");
  await yoda.out.waitFor(`hans: ${last}`, 30_000);
  const shown = yoda.out.seen.filter((l) => l.startsWith("hans: "));
  // Acknowledged as shown: after a logout and a new login, nothing comes again.
  yoda.send("logout");
  await yoda.out.waitFor("Goodbye");
  const again = await loginClient(port, "yoda");
  await expectReply(again, "whoelse", "No other users online");
  expect(again.out.seen.filter((l) => l.startsWith("hans: "))).toEqual([]);
  return shown;
}

/** The lines showing messages from..to. */
const lines = (from: number, to: number, body = text) => Array.from({ length: to - from + 1 }, (_, i) => `hans: ${body(i + from)}`);

test("2 000 stored; a v2 login reads a few and resets the connection unacknowledged; the next login shows all 2 000, in order", async () => {
  const store = prefill(2000);
  const srv = await startServer({ store });
  const raw = await RawConn.login(srv.port, "yoda");
  await raw.waitFor((m) => m.t === "msg" && m.seq !== undefined && m.text === text(5));
  expect(offline(raw).slice(0, 5).map((m) => m.text)).toEqual([1, 2, 3, 4, 5].map(text));
  raw.destroy(); // no ack
  await srv.log.waitFor(/yoda logged out/);
  expect(await showAll(srv.port, text(2000))).toEqual(lines(1, 2000));
}, 60_000);

test("the server killed (SIGKILL) mid-delivery and restarted on the same store: only what was acknowledged is gone", async () => {
  // 1 KiB texts: the 2 MB backlog takes several paced batches.
  const body = (i: number) => `${text(i)} `.padEnd(1024, "k");
  const store = prefill(2000, body);
  const first = await startServer({ store });
  const raw = await RawConn.login(first.port, "yoda");
  const fiftieth = (await raw.waitFor((m) => m.t === "msg" && m.text === body(50))) as Msg;
  raw.pause(); // the rest of the backlog waits on the server's side
  raw.send({ t: "ack", upTo: fiftieth.seq! });
  await first.log.waitFor(new RegExp(`yoda acknowledged up to ${fiftieth.seq}$`));
  first.proc.kill("SIGKILL");
  await first.proc.exited;
  const second = await startServer({ store });
  expect(await showAll(second.port, body(2000))).toEqual(lines(51, 2000, body));
}, 60_000);

test("a login that never reads, with a full mailbox of 4 KiB texts: server memory stays bounded, nothing is lost", async () => {
  const n = 10_000;
  const body = (i: number) => `${text(i)} `.padEnd(MAX_TEXT_BYTES, "x");
  const store = prefill(n, body);
  const srv = await startServer({ store, timeout: 3600 });
  const before = await rssBytes(srv.proc.pid);
  const raw = await RawConn.hello(srv.port);
  raw.pause();
  raw.send({ t: "login", user: "yoda", pass: PASSWORDS.yoda! });
  // Give an unpaced server time to pile the whole backlog up (it used to reach ~250 MB).
  let peak = 0;
  for (let i = 0; i < 20; i++) {
    await Bun.sleep(200);
    peak = Math.max(peak, await rssBytes(srv.proc.pid));
  }
  expect(srv.proc.exitCode).toBeNull();
  // Paced: a few batches in flight and the garbage of reading them (~30 MiB measured).
  expect((peak - before) / 2 ** 20).toBeLessThan(64);
  // Still connected (paced, not "not reading"), and every message is still stored.
  expect(srv.log.seen.concat(await srv.log.drain(100)).filter((l) => /peer not reading/.test(l))).toEqual([]);
  raw.destroy();
  await srv.log.waitFor(/yoda logged out/);

  const reader = await RawConn.login(srv.port, "yoda");
  await reader.waitFor((m) => m.t === "msg" && m.text === body(n), 30_000);
  const got = offline(reader);
  expect(got.length).toBe(n);
  expect(got.every((m, i) => m.text === body(i + 1))).toBe(true);
}, 90_000);

describe("a store that cannot write (a full disk)", () => {
  // A 1 MiB tmpfs of its own, detached after the test.
  let mnt: string | null = null;
  afterAll(() => {
    if (mnt) unmountTmpfs(mnt);
  });

  test("the sender gets the storage error, stays connected and usable; once there is room, stored again", async () => {
    const dir = (mnt = mountTmpfs("1m"));
    const srv = await startServer({ store: join(dir, "state.sqlite") });
    const hans = await loginClient(srv.port, "hans");
    await expectReply(hans, "message yoda before", "yoda is offline. Your message will be delivered when they log in");

    // Fill the file system from outside the server.
    const filler = join(dir, "filler");
    spawnSync("dd", ["if=/dev/zero", `of=${filler}`, "bs=4k"]);
    expect(statSync(filler).size).toBeGreaterThan(0);

    await expectReply(hans, "message yoda lost", STORAGE_FAILURE);
    await srv.log.waitFor(/storage failure: store message/);
    await expectReply(hans, "block vader", STORAGE_FAILURE);
    await expectReply(hans, "whoelse", "No other users online");
    expect(hans.proc.exitCode).toBeNull();

    writeFileSync(filler, ""); // room again
    await expectReply(hans, "message yoda after", "yoda is offline. Your message will be delivered when they log in");
    await expectReply(hans, "block vader", "vader is blocked");
    const yoda = await loginClient(srv.port, "yoda");
    await yoda.out.waitFor("hans: after");
    expect(yoda.out.seen.filter((l) => l.startsWith("hans: "))).toEqual(["hans: before", "hans: after"]);
  }, 30_000);
});

test("the store file is created readable by its owner only (0600)", async () => {
  const store = join(tempDir(), "fresh.sqlite");
  const srv = await startServer({ store });
  const hans = await loginClient(srv.port, "hans");
  await expectReply(hans, "message yoda hi", "yoda is offline. Your message will be delivered when they log in");
  expect(statSync(store).mode & 0o777).toBe(0o600);
  expect(statSync(`${store}-wal`).mode & 0o777).toBe(0o600);
});
