/**
 * behaviour.md §8, before login: what a connection that has not logged in costs the server
 * is bounded whatever it sends, and such connections are capped per source address
 * and in total (docs/limits.md). Raw frames (rawconn.ts), so each byte goes out as
 * the test means it. Loads are bounded in count and time.
 */
import { afterEach, expect, test } from "bun:test";
import { MAX_SERVER_FRAME, type ServerMsg } from "../../src/protocol/messages.ts";
import { cleanup, loginClient, PASSWORDS, runToEnd, SERVER_BIN, CREDENTIALS, startClient, startServer } from "./harness.ts";
import { closeAllRaw, header, HELLO, jsonFrame, RawConn, rssBytes } from "./rawconn.ts";

afterEach(async () => {
  closeAllRaw();
  await cleanup();
});

const isReply = (id: number) => (m: ServerMsg) => m.t === "reply" && m.id === id;

test("1 000 connections trickling bytes one at a time (a frame from its first byte, or a 64 KiB header then its body) add at most 25 MiB", async () => {
  const N = 1000;
  const ROUNDS = 200;
  // Caps raised for the test (all from 127.0.0.1), with room for one real user.
  const srv = await startServer({ extra: ["--max-prelogin-per-address", String(N + 10), "--max-prelogin", String(N + 10)] });
  const conns: RawConn<ServerMsg>[] = [];
  for (let batch = 0; batch < N / 100; batch++) conns.push(...(await Promise.all(Array.from({ length: 100 }, () => RawConn.open(srv.port)))));
  // Odd ones announce a maximum frame at once; even ones send even the header a byte at a time.
  const big = header(MAX_SERVER_FRAME);
  conns.forEach((c, i) => i % 2 && c.sendBytes(big));
  await Bun.sleep(200);
  const before = await rssBytes(srv.proc.pid);
  const trickle = new Uint8Array(ROUNDS).fill(0x20);
  trickle.set(big, 0); // even ones: a header promising 64 KiB, then spaces, all byte by byte
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of conns) c.sendBytes(trickle.subarray(r, r + 1));
    await Bun.sleep(2); // let the server read each byte on its own
  }
  await Bun.sleep(300);
  const after = await rssBytes(srv.proc.pid);
  const growth = after - before;
  console.log(`prelogin trickle: ${N} connections x ${ROUNDS} single bytes: server RSS ${(before / 2 ** 20).toFixed(1)} -> ${(after / 2 ** 20).toFixed(1)} MiB`);
  // Every connection was still there, being served (not refused, not dropped).
  expect(conns.filter((c) => c.closed)).toHaveLength(0);
  expect(srv.log.seen.concat(await srv.log.drain(0)).some((l) => /refused/.test(l))).toBe(false);
  expect(growth).toBeLessThan(25 * 1024 * 1024);
  // and the server serves a real user meanwhile
  const hans = await RawConn.login(srv.port, "hans");
  hans.send({ t: "whoelse", id: 1 });
  expect(await hans.waitFor(isReply(1))).toMatchObject({ code: "users" });
}, 60_000);

test("per-address cap: the next connection not logged in is refused (busy, logged); logged-in ones are not capped; a freed place admits again", async () => {
  const srv = await startServer({ extra: ["--max-prelogin-per-address", "3"] });
  // Five users log in one after another from the same address: logged-in connections do not count.
  const users = ["hans", "yoda", "luke", "vader", "r2d2"];
  const online = [];
  for (const u of users.slice(0, 4)) online.push(await RawConn.login(srv.port, u));
  const waiting = await Promise.all([RawConn.open(srv.port), RawConn.hello(srv.port), RawConn.open(srv.port)]);
  const fourth = await RawConn.open(srv.port);
  fourth.send(HELLO);
  expect(await fourth.next()).toMatchObject({ t: "error", code: "busy" });
  expect(await fourth.closedWithin(3000)).toBe(true);
  await srv.log.waitFor(/refused: 3 connections from 127\.0\.0\.1 are already waiting to log in \(limit 3\)/);
  // The real client, refused, says so in one line and exits 1.
  const refused = startClient(srv.port);
  expect(await refused.proc.exited).toBe(1);
  expect((await refused.err.rest()).join("\n")).toContain("too many connections waiting to log in");
  // Everyone logged in keeps working.
  for (const [i, c] of online.entries()) {
    c.send({ t: "whoelse", id: 10 + i });
    expect(await c.waitFor(isReply(10 + i))).toMatchObject({ code: "users" });
  }
  // A waiting connection logs in (a wrong password first: still waiting): its place is free.
  waiting[1]!.send({ t: "login", user: "r2d2", pass: "wrong" });
  expect(await waiting[1]!.waitFor((m) => m.t === "login_result")).toMatchObject({ code: "bad_password" });
  expect(await (await RawConn.open(srv.port)).next()).toMatchObject({ code: "busy" });
  waiting[1]!.send({ t: "login", user: "r2d2", pass: PASSWORDS.r2d2! });
  expect(await waiting[1]!.waitFor((m) => m.t === "login_result")).toMatchObject({ code: "ok" });
  const next = await RawConn.hello(srv.port);
  expect(next.closed).toBe(false);
  // A waiting connection closes: its place is free too; a real client gets its prompt.
  waiting[0]!.destroy();
  await srv.log.waitFor(/link closed: /);
  const c = startClient(srv.port);
  await c.out.waitFor("Username:");
  c.send("hans");
  await c.out.waitFor("Password:");
  c.send(PASSWORDS.hans!);
  await c.out.waitFor("Error. hans is already logged in");
});

test("total cap: the next connection not logged in, from any address, is refused (logged); logged-in users keep working", async () => {
  const srv = await startServer({ extra: ["--max-prelogin", "4"] });
  const hans = await RawConn.login(srv.port, "hans");
  const waiting = await Promise.all(Array.from({ length: 4 }, () => RawConn.open(srv.port)));
  const fifth = await RawConn.open(srv.port);
  expect(await fifth.next()).toMatchObject({ t: "error", code: "busy" });
  expect(await fifth.closedWithin(3000)).toBe(true);
  await srv.log.waitFor(/refused: 4 connections are already waiting to log in \(limit 4\)/);
  hans.send({ t: "whoelse", id: 1 });
  expect(await hans.waitFor(isReply(1))).toMatchObject({ code: "users", users: [] });
  for (const w of waiting) expect(w.closed).toBe(false);
  // A place frees when one of them logs in.
  waiting[0]!.send(HELLO);
  waiting[0]!.send({ t: "login", user: "yoda", pass: PASSWORDS.yoda! });
  await waiting[0]!.waitFor((m) => m.t === "login_result");
  const sixth = await RawConn.login(srv.port, "luke");
  expect(sixth.closed).toBe(false);
});

test("the caps are checked like the other arguments", async () => {
  for (const opt of ["--max-prelogin-per-address", "--max-prelogin"]) {
    const r = await runToEnd([SERVER_BIN, "4000", "1", "1", "--credentials", CREDENTIALS, opt, "0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${opt} must be a whole number`);
  }
});

test("login with a peerPort outside 1-65535 is a protocol violation: error, closed, logged", async () => {
  const srv = await startServer();
  for (const peerPort of [0, 65536]) {
    const c = await RawConn.hello(srv.port);
    c.sendBytes(jsonFrame({ t: "login", user: "hans", pass: PASSWORDS.hans!, peerPort }));
    const err = await c.waitFor((m) => m.t === "error");
    expect(err).toMatchObject({ code: "protocol", detail: "login.peerPort: expected a TCP port from 1 to 65535" });
    expect(await c.closedWithin(3000)).toBe(true);
  }
  await srv.log.waitFor(/login\.peerPort: expected a TCP port/);
  const ok = await RawConn.hello(srv.port);
  ok.send({ t: "login", user: "hans", pass: PASSWORDS.hans!, peerPort: 65535 });
  expect(await ok.waitFor((m) => m.t === "login_result")).toMatchObject({ code: "ok" });
});
