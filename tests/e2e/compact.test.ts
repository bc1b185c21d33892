/**
 * Protocol version 3's compact frames through ./server (docs/protocol.md §8): a
 * connection that said hello v3 may send message/broadcast compact and gets its bare
 * replies, msgs and presence notices compact; a version 2 connection on the same server
 * gets JSON for the same traffic, whichever version its correspondent speaks; JSON is
 * still accepted from a v3 connection, and what has no compact form (a reply with
 * fields, an offline msg with its seq) comes as JSON. A compact frame before hello,
 * after a v2 hello, or malformed is a protocol violation: error, then close.
 */
import { afterEach, expect, test } from "bun:test";
import { encodeCompactClient } from "../../src/protocol/compact.ts";
import { KIND_COMPACT, KIND_JSON } from "../../src/protocol/frame.ts";
import type { ClientMsg, ServerMsg } from "../../src/protocol/messages.ts";
import { cleanup, startServer, type ServerProc } from "./harness.ts";
import { closeAllRaw, compactFrame, HELLO, jsonFrame, RawConn } from "./rawconn.ts";

afterEach(async () => {
  closeAllRaw();
  await cleanup();
});

type Conn = RawConn<ServerMsg>;
const utf8 = new TextEncoder();
const isReply = (id: number) => (m: ServerMsg) => m.t === "reply" && m.id === id;
const isMsg = (text: string) => (m: ServerMsg) => m.t === "msg" && m.text === text;
const isPresence = (user: string, state: "in" | "out") => (m: ServerMsg) => m.t === "presence" && m.user === user && m.state === state;

/** The next message matching `want`, checked whole and for the frame kind it came in. */
async function expectNext(c: Conn, want: (m: ServerMsg) => boolean, equals: ServerMsg, kind: number): Promise<void> {
  const m = await c.waitFor(want);
  expect(m).toStrictEqual(equals);
  expect(c.kindOf(m)).toBe(kind);
}

/** Send a request (compact or JSON) and check its reply and the reply's frame kind. */
async function request(c: Conn, req: ClientMsg & { id: number }, how: "compact" | "json", reply: Omit<Extract<ServerMsg, { t: "reply" }>, "t" | "id">, kind: number) {
  if (how === "compact") c.sendCompact(req);
  else c.send(req);
  await expectNext(c, isReply(req.id), { t: "reply", id: req.id, ...reply }, kind);
}

/** Every message this connection received came as JSON (a compact one would also show as undecodable). */
function allJson(c: Conn): void {
  expect(c.received.length).toBeGreaterThan(0);
  expect(c.received.filter((m) => c.kindOf(m) !== KIND_JSON)).toEqual([]);
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^$()|[\]\\{}]/g, "\\$&");

/** A violation: error {code:"protocol"} with this detail, then the server closes the link. */
async function expectViolation(srv: ServerProc, c: Conn, detail: string): Promise<void> {
  expect(await c.waitFor("error")).toStrictEqual({ t: "error", code: "protocol", detail });
  expect(await c.closedWithin(3000)).toBe(true);
  await srv.log.waitFor(new RegExp(`server: session \\d+: ${escapeRegExp(detail)}$`));
}

test("v3 to v3: compact message and broadcast, compact replies, msgs and presence; JSON still accepted; a reply with fields and an offline msg come as JSON", async () => {
  const srv = await startServer();
  const yoda = await RawConn.login(srv.port, "yoda");
  expect(yoda.kindOf(yoda.received[0]!)).toBe(KIND_JSON); // hello_ok is always JSON
  const hans = await RawConn.login(srv.port, "hans");
  await expectNext(yoda, isPresence("hans", "in"), { t: "presence", user: "hans", state: "in" }, KIND_COMPACT);

  const text = "hé 😀 \0 ✓"; // multi-byte characters, and a 0 inside a text
  await request(hans, { t: "message", id: 1, to: "yoda", text }, "compact", { code: "ok" }, KIND_COMPACT);
  await expectNext(yoda, isMsg(text), { t: "msg", from: "hans", text, kind: "direct" }, KIND_COMPACT);
  await request(hans, { t: "broadcast", id: 2, text: "all" }, "compact", { code: "ok" }, KIND_COMPACT);
  await expectNext(yoda, isMsg("all"), { t: "msg", from: "hans", text: "all", kind: "broadcast" }, KIND_COMPACT);
  // Any bare reply code, not only ok.
  await request(hans, { t: "message", id: 3, to: "nobody", text: "x" }, "compact", { code: "invalid_user" }, KIND_COMPACT);
  await request(hans, { t: "message", id: 4, to: "yoda", text: "x".repeat(4097) }, "compact", { code: "too_long" }, KIND_COMPACT);
  // The JSON form is always accepted; the answers still go compact.
  await request(hans, { t: "message", id: 5, to: "yoda", text: "as json" }, "json", { code: "ok" }, KIND_COMPACT);
  await expectNext(yoda, isMsg("as json"), { t: "msg", from: "hans", text: "as json", kind: "direct" }, KIND_COMPACT);
  // No compact form: an id over 2^32 − 1, a reply with fields.
  const big = 2 ** 32;
  hans.send({ t: "message", id: big, to: "yoda", text: "big id" });
  await expectNext(hans, isReply(big), { t: "reply", id: big, code: "ok" }, KIND_JSON);
  await request(hans, { t: "whoelse", id: 6 }, "json", { code: "users", users: ["yoda"] }, KIND_JSON);
  await request(hans, { t: "block", id: 7, user: "luke" }, "json", { code: "ok", user: "luke" }, KIND_JSON);

  // Offline: stored, then delivered at the next login with its seq, as JSON.
  yoda.end();
  await expectNext(hans, isPresence("yoda", "out"), { t: "presence", user: "yoda", state: "out" }, KIND_COMPACT);
  await request(hans, { t: "message", id: 8, to: "yoda", text: "later" }, "compact", { code: "stored" }, KIND_COMPACT);
  const again = await RawConn.login(srv.port, "yoda");
  const offline = await again.waitFor(isMsg("later"));
  expect(offline).toMatchObject({ t: "msg", from: "hans", text: "later", kind: "offline" });
  expect(offline.t === "msg" && offline.seq).toBeGreaterThan(0);
  expect(again.kindOf(offline)).toBe(KIND_JSON);
});

test("mixed versions on one server: a v2 connection gets JSON for what a v3 one gets compact, in both directions", async () => {
  const srv = await startServer();
  const luke = await RawConn.login(srv.port, "luke", { v: 2 });
  const yoda = await RawConn.login(srv.port, "yoda");
  await expectNext(luke, isPresence("yoda", "in"), { t: "presence", user: "yoda", state: "in" }, KIND_JSON);

  // v2 sender → v3 recipient.
  await request(luke, { t: "message", id: 1, to: "yoda", text: "from v2" }, "json", { code: "ok" }, KIND_JSON);
  await expectNext(yoda, isMsg("from v2"), { t: "msg", from: "luke", text: "from v2", kind: "direct" }, KIND_COMPACT);
  await request(luke, { t: "broadcast", id: 2, text: "v2 to all" }, "json", { code: "ok" }, KIND_JSON);
  await expectNext(yoda, isMsg("v2 to all"), { t: "msg", from: "luke", text: "v2 to all", kind: "broadcast" }, KIND_COMPACT);

  // v3 sender → v2 recipient (and a v3 bystander gets the same broadcast compact).
  const hans = await RawConn.login(srv.port, "hans");
  await request(yoda, { t: "message", id: 3, to: "luke", text: "from v3" }, "compact", { code: "ok" }, KIND_COMPACT);
  await expectNext(luke, isMsg("from v3"), { t: "msg", from: "yoda", text: "from v3", kind: "direct" }, KIND_JSON);
  await request(yoda, { t: "broadcast", id: 4, text: "v3 to all" }, "compact", { code: "ok" }, KIND_COMPACT);
  await expectNext(luke, isMsg("v3 to all"), { t: "msg", from: "yoda", text: "v3 to all", kind: "broadcast" }, KIND_JSON);
  await expectNext(hans, isMsg("v3 to all"), { t: "msg", from: "yoda", text: "v3 to all", kind: "broadcast" }, KIND_COMPACT);
  hans.end();
  await expectNext(luke, isPresence("hans", "out"), { t: "presence", user: "hans", state: "out" }, KIND_JSON);
  allJson(luke);
});

test("a compact frame before hello, after a v2 or v1 hello, or after a v2 login: error protocol, closed; right behind a hello v3 it is accepted; others are served", async () => {
  const srv = await startServer();
  const bystander = await RawConn.login(srv.port, "hans");
  const msg: ClientMsg = { t: "message", id: 1, to: "hans", text: "hi" };

  const early = await RawConn.open(srv.port);
  early.sendCompact(msg);
  await expectViolation(srv, early, "unexpected frame kind 3");
  for (const v of [2, 1]) {
    const c = await RawConn.hello(srv.port, v);
    c.sendCompact(msg);
    await expectViolation(srv, c, "unexpected frame kind 3");
    allJson(c);
  }
  const v2 = await RawConn.login(srv.port, "luke", { v: 2 });
  v2.sendCompact({ t: "broadcast", id: 2, text: "hi" });
  await expectViolation(srv, v2, "unexpected frame kind 3");
  allJson(v2);

  // Right behind a hello v3, in the same write, a compact frame is already accepted:
  // a message before login, not a violation.
  const piped = await RawConn.open(srv.port);
  piped.sendBytes(new Uint8Array([...jsonFrame(HELLO), ...encodeCompactClient(msg)!]));
  expect(await piped.next()).toMatchObject({ t: "hello_ok", v: 3 });
  expect(await piped.next()).toStrictEqual({ t: "error", code: "not_logged_in", detail: "log in first" });
  expect(piped.closed).toBe(false);

  // Nothing of those reached hans; he is still served.
  await request(bystander, { t: "message", id: 3, to: "hans", text: "self" }, "compact", { code: "self" }, KIND_COMPACT);
  expect(bystander.received.filter((m) => m.t === "msg")).toEqual([]);
});

test("a malformed compact frame from a v3 connection (bad UTF-8, unknown op, no end to the name, too short): error protocol, closed", async () => {
  const srv = await startServer();
  const yoda = await RawConn.login(srv.port, "yoda");
  const id = [0, 0, 0, 9];
  const bodies: [number[], string][] = [
    [[1, ...id, ...utf8.encode("yo"), 0xff, 0, ...utf8.encode("hi")], "compact message: not valid UTF-8"],
    [[1, ...id, ...utf8.encode("yoda"), 0, 0xed, 0xa0, 0x80], "compact message: not valid UTF-8"],
    [[2, ...id, 0xc3], "compact broadcast: not valid UTF-8"],
    [[3, 0, ...utf8.encode("yoda")], "unknown compact op 3"],
    [[1, ...id, ...utf8.encode("yoda hi")], "compact message: no end to the name"],
    [[2, 0, 0], "compact broadcast: too short"],
    [[], "compact frame without an op"],
  ];
  for (const [body, detail] of bodies) {
    const c = await RawConn.login(srv.port, "hans");
    c.sendBytes(compactFrame(body));
    await expectViolation(srv, c, detail);
    // Whatever it would have said never reached yoda.
    await expectNext(yoda, isPresence("hans", "out"), { t: "presence", user: "hans", state: "out" }, KIND_COMPACT);
  }
  expect(yoda.received.filter((m) => m.t === "msg")).toEqual([]);
});
