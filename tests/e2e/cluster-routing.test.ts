/**
 * behaviour.md §11 between users of different servers: three ./server processes on one
 * redis-server, clients spread over them. Messages, broadcasts (skipping blockers),
 * presence, whoelse, private messaging (peer tokens issued by one server, redeemed
 * through another); a server killed (its users logged out for everyone within 15 s,
 * messages for them stored and shown when they log in again through another); Redis
 * killed and restarted on its AOF (connections kept, "busy" meanwhile, nothing lost).
 * Heartbeats are shortened for the tests (cluster-kit.ts TEST_TIMES).
 */
import { afterAll, afterEach, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join as pathJoin } from "node:path";
import { cleanup, loginClient, tempDir, typeLogin, type ClientProc } from "./harness.ts";
import { exitCode, expectReply, outputOf } from "./helpers.ts";
import { P } from "./p2pkit.ts";
import { startCluster } from "./cluster-kit.ts";
import { closeAllRaw, jsonFrame, RawConn } from "./rawconn.ts";
import { stopAllRedis } from "./redis.ts";

afterEach(() => {
  closeAllRaw();
  return cleanup();
});
afterAll(stopAllRedis);

const BUSY = "Error. Server busy, please try again later";
const PARTIAL = "Your message could not be delivered to some recipients";
const BLOCKED_YOU = "Your message could not be delivered as the recipient has blocked you";
const stored = (u: string) => `${u} is offline. Your message will be delivered when they log in`;

/** Log `user` in on `port`; every client in `others` sees the login. */
async function join(port: number, user: string, others: ClientProc[]): Promise<ClientProc> {
  const c = await loginClient(port, user);
  for (const o of others) await o.out.waitFor(`${user} logged in`);
  return c;
}

test("messages, broadcasts, presence and whoelse between users of three servers; blocks hold across them", async () => {
  const { nodes } = await startCluster(3);
  const [a, b, c] = nodes.map((n) => n.port) as [number, number, number];
  const hans = await join(a, "hans", []);
  const yoda = await join(b, "yoda", [hans]);
  const luke = await join(c, "luke", [hans, yoda]);

  expect(await outputOf(hans, "message yoda hello from A")).toEqual([]);
  await yoda.out.waitFor("hans: hello from A");
  expect(await outputOf(yoda, "message luke hello from B")).toEqual([]);
  await luke.out.waitFor("yoda: hello from B");
  expect(await outputOf(luke, "broadcast hello all")).toEqual([]);
  await hans.out.waitFor("luke: hello all");
  await yoda.out.waitFor("luke: hello all");
  expect((await outputOf(hans, "whoelse")).sort()).toEqual(["luke", "yoda"]);

  await expectReply(yoda, "block luke", "luke is blocked");
  await expectReply(luke, "broadcast once more", PARTIAL);
  await hans.out.waitFor("luke: once more");
  await expectReply(luke, "message yoda let me in", BLOCKED_YOU);
  expect(await outputOf(luke, "whoelse")).toEqual(["hans"]);
  // yoda's logout is hidden from luke (blocked), shown to hans.
  yoda.send("logout");
  await hans.out.waitFor("yoda logged out");
  expect(await exitCode(yoda.proc)).toBe(0);
  expect(await outputOf(luke, "whoelse")).toEqual(["hans"]);
  expect(yoda.out.seen.filter((l) => l.startsWith("luke: "))).toEqual(["luke: hello all"]);
  expect(luke.out.seen.filter((l) => l.includes("yoda logged"))).toEqual([]);
});

test("a burst of 1 000 messages from one user to a user of another server arrives complete and in order", async () => {
  // The sending server batches what one turn sends to a server (one stream entry for
  // many messages), lets the sender's messages overlap, and skips the lookup for users
  // it knows to be elsewhere: none of it may reorder, lose or repeat a message, or
  // reorder the replies. The 1 000 frames go out in one write, so turns carry many.
  const { nodes } = await startCluster(2);
  const hans = await RawConn.login(nodes[0]!.port, "hans");
  const yoda = await RawConn.login(nodes[1]!.port, "yoda");
  await hans.waitFor((m) => m.t === "presence" && m.user === "yoda"); // hans's server knows where yoda is
  const N = 1000;
  const frames = Array.from({ length: N }, (_, i) => jsonFrame({ t: "message", to: "yoda", text: `m${i}`, id: i + 1 }));
  hans.sendBytes(Buffer.concat(frames));
  await yoda.waitFor((m) => m.t === "msg" && m.text === `m${N - 1}`, 30_000);
  await hans.waitFor((m) => m.t === "reply" && m.id === N, 30_000);
  const texts = yoda.received.flatMap((m) => (m.t === "msg" ? [m.text] : []));
  expect(texts).toEqual(Array.from({ length: N }, (_, i) => `m${i}`));
  const replies = hans.received.flatMap((m) => (m.t === "reply" ? [`${m.id} ${m.code}`] : []));
  expect(replies).toEqual(Array.from({ length: N }, (_, i) => `${i + 1} ok`));
});

test("private messaging between users of different servers (token issued by one, checked through another)", async () => {
  const { nodes } = await startCluster(2);
  const hans = await join(nodes[0]!.port, "hans", []);
  const luke = await join(nodes[1]!.port, "luke", [hans]);
  await expectReply(hans, "startprivate luke", P.started("luke"));
  hans.send("private luke across servers");
  await luke.out.waitFor(P.chat("hans", "across servers"));
  luke.send("private hans and back");
  await hans.out.waitFor(P.chat("luke", "and back"));
});

test("file sharing across servers: registered through one, found and downloaded by a user of another", async () => {
  const { nodes } = await startCluster(2);
  const dirs = { hans: tempDir("files-hans-"), luke: tempDir("files-luke-") };
  const hans = await loginClient(nodes[0]!.port, "hans", ["--files", dirs.hans]);
  const luke = await loginClient(nodes[1]!.port, "luke", ["--files", dirs.luke]);
  await hans.out.waitFor("luke logged in");
  const data = randomBytes(600 * 1024);
  writeFileSync(pathJoin(dirs.hans, "x.bin"), data);
  await expectReply(hans, "register x.bin 3", "File x.bin registered (614400 bytes, 3 chunks)");
  await expectReply(luke, "searchFile x.bin", "File x.bin is available from: hans");
  await expectReply(luke, "private hans download x.bin 2", "Downloaded chunk 2 of x.bin from hans");
  // luke's client announces the chunk after showing the download (file_have): ask until it is in.
  const both = "Chunk 2 of x.bin is available from: hans, luke";
  for (let i = 0; (await outputOf(hans, "searchChunk x.bin 2"))[0] !== both; i++) expect(i).toBeLessThan(50);
  // hans leaves: his holdings go with him, on every server.
  hans.send("logout");
  await luke.out.waitFor("hans logged out");
  await expectReply(luke, "searchChunk x.bin 1", "Chunk 1 of x.bin is not available");
});

test("a server killed: its users are logged out for everyone within 15 s; messages for them are stored and shown when they log in through another", async () => {
  const { nodes } = await startCluster(2);
  const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
  const hans = await join(a.port, "hans", []);
  await join(b.port, "yoda", [hans]);
  b.proc.kill("SIGKILL");
  await hans.out.waitFor("yoda logged out", 15_000);
  await expectReply(hans, "message yoda are you there", stored("yoda"));
  expect(await outputOf(hans, "whoelse")).toEqual(["No other users online"]);
  const yoda = await loginClient(a.port, "yoda");
  await yoda.out.waitFor("hans: are you there");
});

test("a server killed, its user logs in again through another as soon as it is judged dead", async () => {
  const { nodes } = await startCluster(2);
  const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
  await loginClient(b.port, "luke");
  b.proc.kill("SIGKILL");
  // Until the server is judged dead the name is taken; then the login goes through.
  for (let i = 0; ; i++) {
    const again = await loginClient(a.port, "luke").catch(() => null);
    if (again) {
      expect(await outputOf(again, "whoelse")).toEqual(["No other users online"]);
      break;
    }
    expect(i).toBeLessThan(30);
    await Bun.sleep(500);
  }
});

test("Redis killed and restarted on its AOF: connections kept, busy meanwhile, then messages flow again and nothing stored is lost", async () => {
  const { nodes, redis } = await startCluster(2);
  const [a, b] = nodes.map((n) => n.port) as [number, number];
  const hans = await join(a, "hans", []);
  const yoda = await join(b, "yoda", [hans]);
  await expectReply(hans, "message luke kept through the crash", stored("luke"));
  await redis.kill();
  await expectReply(hans, "message yoda during the outage", BUSY);
  await expectReply(yoda, "whoelse", BUSY);
  // A login meanwhile: no verdict, the client says so and asks again.
  const r2 = await typeLogin(b, "r2d2");
  await r2.out.waitFor(BUSY);
  await r2.out.waitFor("Username:");
  await redis.restart();
  // Back: the same connections work again (the link notices within a second or so).
  for (let i = 0; ; i++) {
    const got = await outputOf(hans, "message yoda after the outage");
    if (got.length === 0) break;
    expect(got).toEqual([BUSY]);
    expect(i).toBeLessThan(40);
    await Bun.sleep(250);
  }
  await yoda.out.waitFor("hans: after the outage");
  expect(await exitCode(hans.proc, 10)).toBe("still running");
  const luke = await loginClient(b, "luke");
  await luke.out.waitFor("hans: kept through the crash");
});
