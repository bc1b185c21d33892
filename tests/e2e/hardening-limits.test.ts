/**
 * behaviour.md §4 and §8: one test per server limit (docs/limits.md), each asserting the
 * error the client gets or the disconnect, and the line the -d log shows.
 * Raw frames (rawconn.ts) so each limit is hit exactly, not through the client.
 */
import { afterEach, expect, test } from "bun:test";
import { MAX_SERVER_FRAME, MAX_TEXT_BYTES, type ServerMsg } from "../../src/protocol/messages.ts";
import { DEFAULT_LIMITS } from "../../src/server/hub.ts";
import { MAX_CLIENT_QUEUE } from "../../src/server/server.ts";
import { cleanup, CREDENTIALS, loginClient, PASSWORDS, runToEnd, SERVER_BIN, startServer } from "./harness.ts";
import { closeAllRaw, header, jsonFrame, RawConn, rssBytes } from "./rawconn.ts";

afterEach(async () => {
  closeAllRaw();
  await cleanup();
});

const isReply = (id: number) => (m: ServerMsg) => m.t === "reply" && m.id === id;

test("frame size: a frame of exactly the limit is served; one byte over, or 4 GiB, gets an error and is closed before its body", async () => {
  const { port, log, proc } = await startServer();
  const c = await RawConn.login(port, "hans");

  // Exactly MAX_SERVER_FRAME bytes of kind + body: a whoelse padded with spaces.
  const json = new TextEncoder().encode(JSON.stringify({ t: "whoelse", id: 7 }));
  const body = new Uint8Array(MAX_SERVER_FRAME - 1).fill(0x20);
  body.set(json, 0);
  c.sendBytes(header(MAX_SERVER_FRAME));
  c.sendBytes(body);
  expect(await c.waitFor(isReply(7))).toMatchObject({ code: "users", users: [] });

  // One byte over: refused from the header alone (no body is ever sent).
  const over = await RawConn.login(port, "yoda");
  over.sendBytes(header(MAX_SERVER_FRAME + 1));
  const err = await over.waitFor((m) => m.t === "error");
  expect(err).toMatchObject({ t: "error", code: "protocol" });
  expect((err as { detail: string }).detail).toContain(`over the limit of ${MAX_SERVER_FRAME}`);
  expect(await over.closedWithin(3000)).toBe(true);
  await log.waitFor(new RegExp(`bad frame: frame of ${MAX_SERVER_FRAME + 1} bytes over the limit`));

  // 4 GiB announced: same, at once; the server's memory does not move.
  const before = await rssBytes(proc.pid);
  const huge = await RawConn.hello(port);
  huge.sendBytes(header(0xffffffff));
  huge.sendBytes(new Uint8Array(1000).fill(0x41));
  const err2 = await huge.waitFor((m) => m.t === "error");
  expect((err2 as { detail: string }).detail).toContain("frame of 4294967295 bytes over the limit");
  expect(await huge.closedWithin(3000)).toBe(true);
  await log.waitFor(/bad frame: frame of 4294967295 bytes/);
  expect(await rssBytes(proc.pid)).toBeLessThan(before + 32 * 1024 * 1024);

  // The first connection was never disturbed.
  c.send({ t: "whoelse", id: 8 });
  expect(await c.waitFor(isReply(8))).toMatchObject({ code: "users" });
});

test("message text length: 4096 bytes pass, 4097 get too_long (message and broadcast), logged", async () => {
  const { port, log } = await startServer();
  const c = await RawConn.login(port, "hans");
  const exact = "é".repeat(MAX_TEXT_BYTES / 2); // 4096 bytes in 2048 characters: bytes count, not characters
  c.send({ t: "message", id: 1, to: "yoda", text: exact });
  expect(await c.waitFor(isReply(1))).toMatchObject({ code: "stored" });
  c.send({ t: "message", id: 2, to: "yoda", text: exact + "a" });
  expect(await c.waitFor(isReply(2))).toMatchObject({ code: "too_long" });
  await log.waitFor(new RegExp(`hans: text of ${MAX_TEXT_BYTES + 1} bytes over the limit of ${MAX_TEXT_BYTES}`));
  c.send({ t: "broadcast", id: 3, text: "x".repeat(MAX_TEXT_BYTES + 1) });
  expect(await c.waitFor(isReply(3))).toMatchObject({ code: "too_long" });
  c.send({ t: "broadcast", id: 4, text: "x".repeat(MAX_TEXT_BYTES) });
  expect(await c.waitFor(isReply(4))).toMatchObject({ code: "ok" });

  // Only the 4096-byte message was stored.
  const y = await RawConn.login(port, "yoda");
  const m = await y.waitFor((x) => x.t === "msg");
  expect(m).toMatchObject({ from: "hans", text: exact, kind: "offline" });
  expect(await y.closedWithin(300)).toBe(false);
  expect(y.received.filter((x) => x.t === "msg")).toHaveLength(1);
});

test("offline messages per user: the mailbox holds maxMailbox, then mailbox_full (logged); a full mailbox of 4096-byte texts arrives whole, in order", async () => {
  const max = DEFAULT_LIMITS.maxMailbox;
  const { port, log, proc } = await startServer();
  const c = await RawConn.login(port, "hans");
  // Full-size texts: the backlog (~40 MB) is far over the outbound queue limit, and
  // must still be delivered (paced as the link drains), not mistaken for a client
  // that stopped reading.
  const text = (i: number) => `m${i}:`.padEnd(MAX_TEXT_BYTES, "x");
  for (let i = 1; i <= max + 1; i++) c.send({ t: "message", id: i, to: "yoda", text: text(i) });
  const last = await c.waitFor(isReply(max + 1), 20_000);
  expect(last).toMatchObject({ code: "mailbox_full" });
  const replies = c.received.filter((m) => m.t === "reply") as Extract<ServerMsg, { t: "reply" }>[];
  expect(replies).toHaveLength(max + 1);
  expect(replies.slice(0, max).every((r) => r.code === "stored")).toBe(true);
  await log.waitFor(new RegExp(`mailbox of yoda full \\(${max}\\)`));

  const y = await RawConn.login(port, "yoda");
  await y.waitFor((m) => m.t === "msg" && m.text === text(max), 20_000);
  const texts = y.received.flatMap((m) => (m.t === "msg" ? [m.text] : []));
  expect(texts).toHaveLength(max);
  expect(texts.every((t, i) => t === text(i + 1))).toBe(true);
  expect(y.closed).toBe(false);
  expect(log.seen.concat(await log.drain(100)).filter((l) => /peer not reading/.test(l))).toEqual([]);
  expect(await rssBytes(proc.pid)).toBeLessThan(300 * 1024 * 1024);

  // Acknowledged (protocol v2), the mailbox is empty again: a new message is stored.
  const lastSeq = (y.received.filter((m) => m.t === "msg").at(-1) as Extract<ServerMsg, { t: "msg" }>).seq!;
  y.send({ t: "ack", upTo: lastSeq });
  y.send({ t: "logout", id: 1 });
  await y.closedWithin(3000);
  c.send({ t: "message", id: max + 2, to: "yoda", text: "again" });
  expect(await c.waitFor(isReply(max + 2))).toMatchObject({ code: "stored" });
}, 40_000);

test("outbound queue: a client that stops reading is disconnected (logged); broadcasts to everyone else never stall", async () => {
  const { port, log, proc } = await startServer();
  const slow = await RawConn.login(port, "luke");
  slow.pause();
  const reader = await RawConn.login(port, "yoda");
  const sender = await RawConn.login(port, "hans");
  const text = "z".repeat(4000);

  // Broadcast in rounds until the server gives up on luke (bounded: 64 MiB in all).
  let sent = 0;
  let dropped = false;
  const perRound = 500;
  for (let round = 0; round < 16 && !dropped; round++) {
    for (let i = 0; i < perRound; i++) sender.send({ t: "broadcast", id: ++sent, text });
    await sender.waitFor(isReply(sent), 10_000);
    // Everyone who reads got every broadcast so far: nothing waits on luke.
    await reader.waitFor((m) => m.t === "msg" && reader.received.filter((x) => x.t === "msg").length === sent, 10_000);
    dropped = log.seen.some((l) => /peer not reading/.test(l)) || (await logHas(log, /peer not reading/));
  }
  expect(dropped).toBe(true);
  const line = log.seen.find((l) => /peer not reading/.test(l))!;
  const queued = Number(/\((\d+) bytes queued\)/.exec(line)![1]);
  expect(queued).toBeGreaterThan(MAX_CLIENT_QUEUE);
  expect(queued).toBeLessThan(MAX_CLIENT_QUEUE + 64 * 1024);
  await log.waitFor(/luke logged out \(disconnected\)/);
  // Sanity: far more was sent than the limit, and the server did not keep it.
  expect(sent * 4000).toBeGreaterThan(MAX_CLIENT_QUEUE);
  expect(await rssBytes(proc.pid)).toBeLessThan(300 * 1024 * 1024);

  // The others carry on, and see luke gone.
  sender.send({ t: "whoelse", id: ++sent });
  expect(await sender.waitFor(isReply(sent))).toMatchObject({ code: "users", users: ["yoda"] });
  reader.send({ t: "whoelse", id: 1 });
  await reader.waitFor(isReply(1));
  expect(reader.received.filter((m) => m.t === "presence" && m.user === "luke")).toEqual([{ t: "presence", user: "luke", state: "out" }]);
  expect(reader.received.filter((m) => m.t === "msg")).toHaveLength(sent - 1);
}, 40_000);

test("pre-login time: --login-timeout closes a silent or hello-only connection with login_timeout (logged); a logged-in one stays", async () => {
  const { port, log } = await startServer({ extra: ["--login-timeout", "1"] });
  const silent = await RawConn.open(port);
  const helloOnly = await RawConn.hello(port);
  const user = await RawConn.login(port, "hans");
  const started = Date.now();
  const err = await helloOnly.waitFor((m) => m.t === "error", 5000);
  expect(err).toMatchObject({ code: "login_timeout" });
  expect(await helloOnly.closedWithin(4000)).toBe(true);
  expect(await silent.closedWithin(4000)).toBe(true);
  expect(Date.now() - started).toBeLessThan(6000);
  await log.waitFor(/no login within 1000 ms, closing/);
  // The logged-in session is past the pre-login limit and is kept.
  await Bun.sleep(300);
  user.send({ t: "whoelse", id: 1 });
  expect(await user.waitFor(isReply(1))).toMatchObject({ code: "users" });
  expect(user.closed).toBe(false);
});

test("--login-timeout is checked like the other arguments", async () => {
  const r = await runToEnd([SERVER_BIN, "4000", "1", "1", "--credentials", CREDENTIALS, "--login-timeout", "0"]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("--login-timeout must be a whole number");
});

test("login attempts per connection: after maxLoginAttempts failures the connection is closed (logged)", async () => {
  const max = DEFAULT_LIMITS.maxLoginAttempts;
  const { port, log } = await startServer();
  const c = await RawConn.hello(port);
  // Unknown users, so no account gets locked: only the per-connection limit applies.
  for (let i = 0; i < max + 5; i++) c.send({ t: "login", user: `nobody${i}`, pass: "x" });
  expect(await c.closedWithin(5000)).toBe(true);
  const results = c.received.filter((m) => m.t === "login_result");
  expect(results).toHaveLength(max);
  expect(results.every((m) => m.t === "login_result" && m.code === "unknown_user")).toBe(true);
  await log.waitFor(new RegExp(`${max} failed logins on one connection, closing`));

  // A new connection may try again, and the right password works.
  const ok = await RawConn.login(port, "hans");
  expect(ok.closed).toBe(false);
});

test("a pipelined flood of wrong passwords: locked after three, the rest ignored; other users log in", async () => {
  const { port } = await startServer({ block: 30 });
  const c = await RawConn.hello(port);
  const frames: Uint8Array[] = [];
  for (let i = 0; i < 2000; i++) frames.push(jsonFrame({ t: "login", user: "vader", pass: `guess${i}` }));
  c.sendBytes(Buffer.concat(frames));
  expect(await c.closedWithin(5000)).toBe(true);
  const codes = c.received.flatMap((m) => (m.t === "login_result" ? [m.code] : []));
  expect(codes).toEqual(["bad_password", "bad_password", "locked_now"]);
  const v = await RawConn.hello(port);
  v.send({ t: "login", user: "vader", pass: PASSWORDS.vader! });
  expect(await v.waitFor((m) => m.t === "login_result")).toMatchObject({ code: "blocked" });
  const hans = await loginClient(port, "hans");
  hans.send("whoelse");
  await hans.out.waitFor("No other users online");
});

/** Is there a line matching re among the lines the log has produced so far? (consumes them) */
async function logHas(log: { waitFor(re: RegExp, ms: number): Promise<string> }, re: RegExp): Promise<boolean> {
  try {
    await log.waitFor(re, 50);
    return true;
  } catch {
    return false;
  }
}

