/**
 * behaviour.md §8 bad input: garbage, oversized, truncated and out-of-order frames,
 * floods and silent connections. For each, the offending connection gets an
 * error or is dropped, the -d log says why, and everyone else is served.
 */
import { afterEach, expect, test } from "bun:test";
import { encodeFrame, KIND_DATA } from "../../src/protocol/frame.ts";
import type { ServerMsg } from "../../src/protocol/messages.ts";
import { cleanup, loginClient, PASSWORDS, startServer, type ServerProc } from "./harness.ts";
import { closeAllRaw, header, HELLO, jsonFrame, RawConn, rssBytes } from "./rawconn.ts";

afterEach(async () => {
  closeAllRaw();
  await cleanup();
});

const isReply = (id: number) => (m: ServerMsg) => m.t === "reply" && m.id === id;

/** The server still answers: a logged-in session gets a reply to whoelse. */
async function stillServes(srv: ServerProc, c: RawConn<ServerMsg>, id: number): Promise<void> {
  expect(srv.proc.exitCode).toBeNull();
  c.send({ t: "whoelse", id });
  expect(await c.waitFor(isReply(id))).toMatchObject({ code: "users" });
}

/** Lines of the -d log within ms (consumed). */
async function logLines(srv: ServerProc, ms = 200): Promise<string[]> {
  return srv.log.drain(ms);
}

test("garbage bytes: the connection gets a protocol error and is closed; others are served", async () => {
  const srv = await startServer();
  const bystander = await RawConn.login(srv.port, "hans");
  const http = await RawConn.open(srv.port);
  http.sendBytes(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const err = await http.waitFor((m) => m.t === "error");
  expect(err).toMatchObject({ code: "protocol" });
  expect(await http.closedWithin(3000)).toBe(true);
  // Random bytes, after a valid hello, on 20 connections.
  for (let i = 0; i < 20; i++) {
    const c = await RawConn.hello(srv.port);
    c.sendBytes(crypto.getRandomValues(new Uint8Array(4096)));
    expect(await c.closedWithin(3000)).toBe(true);
  }
  await stillServes(srv, bystander, 1);
  const log = await logLines(srv);
  expect(log.filter((l) => /bad frame|protocol|not valid UTF-8 JSON|unknown message type|expected/.test(l)).length).toBeGreaterThanOrEqual(1);
  expect(srv.log.seen.some((l) => /bad frame: frame of 1195725856 bytes over the limit/.test(l))).toBe(true); // "GET "
});

test("truncated frames: half a frame then close costs nothing; half a frame then silence is closed by the pre-login limit", async () => {
  const srv = await startServer({ extra: ["--login-timeout", "1"] });
  const bystander = await RawConn.login(srv.port, "hans");
  const whole = jsonFrame({ t: "login", user: "yoda", pass: "wise" });
  for (let cut = 1; cut < whole.byteLength; cut += 7) {
    const c = await RawConn.hello(srv.port);
    c.sendBytes(whole.subarray(0, cut));
    c.end();
  }
  // Left hanging mid-frame: closed after the pre-login limit, with the reason.
  const hang = await RawConn.hello(srv.port);
  hang.sendBytes(header(1000));
  hang.sendBytes(new Uint8Array(10).fill(0x20));
  expect(await hang.waitFor((m) => m.t === "error", 5000)).toMatchObject({ code: "login_timeout" });
  expect(await hang.closedWithin(4000)).toBe(true);
  await stillServes(srv, bystander, 1);
});

test("a valid frame of an unknown kind, a data frame, and a JSON frame of an unknown type: error naming it, then closed", async () => {
  const srv = await startServer();
  const bystander = await RawConn.login(srv.port, "hans");
  const cases: [Uint8Array, RegExp][] = [
    [encodeFrame(7, new Uint8Array([1, 2, 3])), /unknown frame kind 7/],
    [encodeFrame(KIND_DATA, new Uint8Array(8)), /unexpected frame kind 2/],
    [jsonFrame({ t: "launch_missiles", id: 1 }), /unknown message type "launch_missiles"/],
    [jsonFrame({ t: "message", id: 1, to: "yoda" }), /message\.text: expected str/],
    [jsonFrame([1, 2, 3]), /not an object/],
    [encodeFrame(1, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), /not valid UTF-8 JSON/],
  ];
  for (const [bytes, why] of cases) {
    const c = await RawConn.login(srv.port, "yoda");
    c.sendBytes(bytes);
    const err = (await c.waitFor((m) => m.t === "error")) as Extract<ServerMsg, { t: "error" }>;
    expect(err.code).toBe("protocol");
    expect(err.detail).toMatch(why);
    expect(await c.closedWithin(3000)).toBe(true);
    await srv.log.waitFor(why);
    await srv.log.waitFor(/yoda logged out \(disconnected\)/);
  }
  await stillServes(srv, bystander, 1);
});

test("out of order: commands before login get not_logged_in and the login still works; anything before hello is closed", async () => {
  const srv = await startServer();
  const c = await RawConn.hello(srv.port);
  c.send({ t: "whoelse", id: 1 });
  c.send({ t: "message", id: 2, to: "yoda", text: "hi" });
  c.send({ t: "logout", id: 3 });
  for (let i = 0; i < 3; i++) expect(await c.next()).toMatchObject({ t: "error", code: "not_logged_in" });
  await srv.log.waitFor(/whoelse before login/);
  c.send({ t: "login", user: "hans", pass: PASSWORDS.hans! });
  expect(await c.next()).toMatchObject({ t: "login_result", code: "ok" });

  const early = await RawConn.open(srv.port);
  early.send({ t: "login", user: "yoda", pass: PASSWORDS.yoda! });
  expect(await early.next()).toMatchObject({ t: "error", code: "protocol", detail: "expected hello, got login" });
  expect(await early.closedWithin(3000)).toBe(true);

  const twice = await RawConn.login(srv.port, "yoda");
  twice.send(HELLO);
  expect(await twice.waitFor((m) => m.t === "error")).toMatchObject({ code: "protocol", detail: "hello after login" });
  expect(await twice.closedWithin(3000)).toBe(true);
  await stillServes(srv, c, 4);
});

test("a login flood of wrong passwords from 100 connections: the targets lock, everyone else logs in and chats", async () => {
  const srv = await startServer({ block: 30 });
  const conns = await Promise.all(Array.from({ length: 100 }, () => RawConn.hello(srv.port)));
  conns.forEach((c, i) => {
    for (let k = 0; k < 5; k++) c.send({ t: "login", user: i % 2 ? "vader" : "r2d2", pass: `guess${i}-${k}` });
  });
  await Promise.all(conns.map((c) => c.closedWithin(5000)));
  const codes = conns.flatMap((c) => c.received.flatMap((m) => (m.t === "login_result" ? [m.code] : [])));
  expect(codes.filter((c) => c === "locked_now")).toHaveLength(2); // one per target account
  expect(codes.filter((c) => c === "ok")).toHaveLength(0);
  const hans = await loginClient(srv.port, "hans");
  const yoda = await loginClient(srv.port, "yoda");
  hans.send("message yoda still here");
  await yoda.out.waitFor("hans: still here");
});

test("1000 connections opened and dropped (some mid-frame, some after hello): all cleaned up, memory bounded, service intact", async () => {
  const srv = await startServer();
  const before = await rssBytes(srv.proc.pid);
  const hello = jsonFrame(HELLO);
  const login = jsonFrame({ t: "login", user: "luke", pass: "jedi" });
  for (let batch = 0; batch < 10; batch++) {
    const conns = await Promise.all(Array.from({ length: 100 }, () => RawConn.open(srv.port)));
    conns.forEach((c, i) => {
      switch (i % 4) {
        case 0:
          break; // open, then drop
        case 1:
          c.sendBytes(hello);
          break;
        case 2:
          c.sendBytes(hello);
          c.sendBytes(login.subarray(0, 9)); // mid-frame
          break;
        case 3:
          c.sendBytes(header(60_000)); // a big frame announced, never sent
          break;
      }
      if (i % 2) c.destroy();
      else c.end();
    });
  }
  // Every connection is seen closed by the server (nothing leaks).
  let closed = 0;
  const deadline = Date.now() + 15_000;
  while (closed < 1000 && Date.now() < deadline) {
    closed += (await srv.log.drain(100)).filter((l) => /link closed/.test(l)).length;
  }
  expect(closed).toBe(1000);
  expect(await rssBytes(srv.proc.pid)).toBeLessThan(Math.max(before * 3, 150 * 1024 * 1024));
  const hans = await loginClient(srv.port, "hans");
  const luke = await loginClient(srv.port, "luke");
  hans.send("message luke after the storm");
  await luke.out.waitFor("hans: after the storm");
}, 30_000);

test("control characters in texts and names are stripped before display", async () => {
  const srv = await startServer();
  const yoda = await loginClient(srv.port, "yoda");
  const hans = await RawConn.login(srv.port, "hans");
  await yoda.out.waitFor("hans logged in");
  const evil = "\u001b[2J\u001b[31mred\u001b[0m\r\u0007bell\u009b1mC1\u001b]0;title\u0007 end\u0000\u007f";
  hans.send({ t: "message", id: 1, to: "yoda", text: evil });
  await hans.waitFor(isReply(1));
  hans.send({ t: "broadcast", id: 2, text: `x\u001b[1Ay` });
  await hans.waitFor(isReply(2));
  expect(await yoda.out.waitFor(/^hans: /)).toBe("hans: redbellC1 end");
  expect(await yoda.out.waitFor(/^hans: /)).toBe("hans: xy");
  // Nothing anywhere in the client's output carries an escape or a control character.
  const raw = yoda.out.seen.join("\n");
  expect(raw).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
});
