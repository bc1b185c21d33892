/**
 * The peer handshake on a manual clock, both sides, and the peer router; with
 * in-memory links (no sockets).
 */
import { describe, expect, test } from "bun:test";
import { ManualClock } from "../../../src/common/clock.ts";
import { silentLogger } from "../../../src/common/logger.ts";
import { Chat } from "../../../src/client/peer/chat.ts";
import { MAX_PENDING_HANDSHAKES, PeerConn } from "../../../src/client/peer/conn.ts";
import { MAX_PEER_FRAME } from "../../../src/protocol/messages.ts";
import { PEER_HANDSHAKE_MS } from "../../../src/client/peer/handshake.ts";
import { Peers } from "../../../src/client/peer/peers.ts";
import { PeerRouter } from "../../../src/client/peer/router.ts";
import { T } from "../../../src/client/texts.ts";
import { KIND_DATA } from "../../../src/protocol/frame.ts";
import { FAKE_CERT, fakeServer, FakeLink, settle } from "./fake-link.ts";

function setup(dial?: ConstructorParameters<typeof Peers>[3]) {
  const clock = new ManualClock();
  const peers = new Peers(new PeerRouter(silentLogger), silentLogger, clock, dial);
  return { clock, peers };
}

/** A call coming in to `peers` from `from` with `token`: the callee's link. */
async function callIn(peers: Peers, from: string, token: string): Promise<FakeLink> {
  const link = new FakeLink();
  peers.accept(link);
  link.deliver({ t: "peer_hello", v: 1, from, token });
  await settle();
  return link;
}

describe("callee side", () => {
  test("a link that never sends peer_hello is destroyed after PEER_HANDSHAKE_MS, not before", () => {
    const { clock, peers } = setup();
    const link = new FakeLink();
    peers.accept(link);
    clock.advance(PEER_HANDSHAKE_MS - 1);
    expect(link.destroyed).toBeNull();
    expect(link.isOpen).toBe(true);
    clock.advance(1);
    expect(link.destroyed).toBe("no handshake");
  });

  test("a good peer_hello, checked with the server, is welcomed and the timer no longer applies", async () => {
    const { clock, peers } = setup();
    const { session, link: toServer } = await fakeServer(clock, (req) =>
      req.t === "peer_check" && req.user === "alice" && req.token === "tok" ? { code: "token_ok", user: "alice", cert: FAKE_CERT } : { code: "token_bad" },
    );
    peers.ready("bob", session);
    const link = await callIn(peers, "alice", "tok");
    expect(toServer.sentTypes).toContain("peer_check");
    expect(link.sent).toEqual([{ t: "peer_welcome", user: "bob" }]);
    clock.advance(PEER_HANDSHAKE_MS * 2);
    expect(link.destroyed).toBeNull();
    expect(peers.openSessions).toEqual(["alice"]);
  });

  test("a bad token is rejected and the link closed", async () => {
    const { clock, peers } = setup();
    const { session } = await fakeServer(clock, () => ({ code: "token_bad", user: "alice" }));
    peers.ready("bob", session);
    const link = await callIn(peers, "alice", "forged");
    expect(link.sent).toEqual([{ t: "peer_reject", reason: "not authorised" }]);
    expect(link.ended).toBe(true);
    expect(peers.openSessions).toEqual([]);
  });

  test("the frame limit is raised to the peer link's only when the caller is welcomed", async () => {
    const { clock, peers } = setup();
    const { session } = await fakeServer(clock, (req) => (req.token === "tok" ? { code: "token_ok", user: "alice", cert: FAKE_CERT } : { code: "token_bad" }));
    peers.ready("bob", session);
    const bad = await callIn(peers, "carol", "forged");
    expect(bad.maxFrame).toBeNull();
    const good = await callIn(peers, "alice", "tok");
    expect(good.maxFrame).toBe(MAX_PEER_FRAME);
  });

  test("beyond MAX_PENDING_HANDSHAKES unauthenticated links, a new one is closed at once; a settled one frees its place", () => {
    const { clock, peers } = setup();
    const waiting: FakeLink[] = [];
    for (let i = 0; i < MAX_PENDING_HANDSHAKES; i++) {
      const l = new FakeLink();
      peers.accept(l);
      waiting.push(l);
    }
    expect(waiting.every((l) => l.destroyed === null)).toBe(true);
    const extra = new FakeLink();
    peers.accept(extra);
    expect(extra.destroyed).toBe("too many pending handshakes");
    waiting[0]!.close("gone");
    const next = new FakeLink();
    peers.accept(next);
    expect(next.destroyed).toBeNull();
    clock.advance(PEER_HANDSHAKE_MS);
    expect(next.destroyed).toBe("no handshake");
    const after = new FakeLink();
    peers.accept(after);
    expect(after.destroyed).toBeNull();
  });

  test("a good token from a caller whose certificate is not the one the server vouches for is rejected", async () => {
    const { clock, peers } = setup();
    const { session } = await fakeServer(clock, () => ({ code: "token_ok", user: "alice", cert: "SHA256:" + "A".repeat(43) }));
    peers.ready("bob", session);
    const link = await callIn(peers, "alice", "stolen"); // presents FAKE_CERT
    expect(link.sent).toEqual([{ t: "peer_reject", reason: "not authorised" }]);
    expect(link.ended).toBe(true);
    expect(peers.openSessions).toEqual([]);
  });

  test("a good token but no certificate vouched for (an older caller) is rejected", async () => {
    const { clock, peers } = setup();
    const { session } = await fakeServer(clock, () => ({ code: "token_ok", user: "alice" }));
    peers.ready("bob", session);
    const link = await callIn(peers, "alice", "tok");
    expect(link.sentTypes).toEqual(["peer_reject"]);
    expect(peers.openSessions).toEqual([]);
  });

  test("before login every call is refused", () => {
    const { peers } = setup();
    const link = new FakeLink();
    peers.accept(link);
    link.deliver({ t: "peer_hello", v: 1, from: "alice", token: "tok" });
    expect(link.sentTypes).toEqual(["peer_reject"]);
  });
});

describe("caller side", () => {
  test("a callee that never answers peer_hello fails the call after PEER_HANDSHAKE_MS", async () => {
    let link: FakeLink | null = null;
    const { clock, peers } = setup(async (_host, _port, events) => (link = new FakeLink(events)));
    const { session } = await fakeServer(clock, (req) =>
      req.t === "peer_request" ? { code: "peer", user: "carol", host: "127.0.0.1", port: 4321, token: "tok", cert: FAKE_CERT } : null,
    );
    peers.ready("bob", session);
    let result: unknown = "pending";
    void peers.open("carol").then((r) => (result = r));
    await settle();
    expect(link!.sent).toEqual([{ t: "peer_hello", v: 1, from: "bob", token: "tok" }]);
    clock.advance(PEER_HANDSHAKE_MS - 1);
    await settle();
    expect(result).toBe("pending");
    clock.advance(1);
    await settle();
    expect(result).toBe(T.peerUnreachable("carol"));
    expect(link!.destroyed).not.toBeNull();
  });

  test("a link whose connection completes after the call timed out is closed, never sent to nor adopted", async () => {
    let link: FakeLink | null = null;
    let connected: () => void = () => {};
    const { clock, peers } = setup((_h, _p, events) => {
      link = new FakeLink(events);
      return new Promise((res) => (connected = () => res(link!)));
    });
    const { session } = await fakeServer(clock, () => ({ code: "peer", user: "carol", host: "h", port: 1, token: "t", cert: FAKE_CERT }));
    peers.ready("bob", session);
    const opened = peers.open("carol");
    await settle();
    clock.advance(PEER_HANDSHAKE_MS);
    expect(await opened).toBe(T.peerUnreachable("carol"));
    connected();
    await settle();
    expect(link!.sent).toEqual([]);
    expect(link!.destroyed).not.toBeNull();
    expect(peers.openSessions).toEqual([]);
  });

  test("peer_welcome from the right user makes the session", async () => {
    let link: FakeLink | null = null;
    const { clock, peers } = setup(async (_h, _p, events) => (link = new FakeLink(events)));
    const { session } = await fakeServer(clock, () => ({ code: "peer", user: "carol", host: "h", port: 1, token: "t", cert: FAKE_CERT }));
    peers.ready("bob", session);
    const opened = peers.open("carol");
    await settle();
    link!.deliver({ t: "peer_welcome", user: "carol" });
    const conn = await opened;
    expect(conn).toBeInstanceOf(PeerConn);
    expect(peers.openSessions).toEqual(["carol"]);
  });

  test("the caller dials expecting exactly the certificate the server vouched for", async () => {
    const want = "SHA256:" + "C".repeat(43);
    const asked: string[] = [];
    const { clock, peers } = setup(async (_h, _p, events, expectCert) => {
      asked.push(expectCert);
      return new FakeLink(events);
    });
    const { session } = await fakeServer(clock, () => ({ code: "peer", user: "carol", host: "h", port: 1, token: "t", cert: want }));
    peers.ready("bob", session);
    void peers.open("carol");
    await settle();
    expect(asked).toEqual([want]);
  });

  test("no certificate vouched for the callee: no call, Cannot reach", async () => {
    const { clock, peers } = setup(async () => {
      throw new Error("must not dial");
    });
    const { session } = await fakeServer(clock, () => ({ code: "peer", user: "carol", host: "h", port: 1, token: "t" }));
    peers.ready("bob", session);
    expect(await peers.open("carol")).toBe(T.peerUnreachable("carol"));
  });

  test("a reply that is not the request's shape is shown as an unexpected answer", async () => {
    const { clock, peers } = setup(async () => {
      throw new Error("must not dial");
    });
    // peer without host/port/token does not fit peer_request's row
    const { session } = await fakeServer(clock, () => ({ code: "peer", user: "carol" }));
    peers.ready("bob", session);
    expect(await peers.open("carol")).toBe(T.unexpectedAnswer("peer"));
  });
});

describe("crossed calls", () => {
  test("both call at once and both get through: both keep the link the smaller name opened", async () => {
    let out: FakeLink | null = null;
    const { clock, peers } = setup(async (_h, _p, events) => (out = new FakeLink(events)));
    const { session } = await fakeServer(clock, (req) =>
      req.t === "peer_request" ? { code: "peer", user: "alice", host: "h", port: 1, token: "out", cert: FAKE_CERT } : { code: "token_ok", user: "alice", cert: FAKE_CERT },
    );
    peers.ready("bob", session);
    const opened = peers.open("alice");
    await settle();
    expect(out!.sentTypes).toEqual(["peer_hello"]);
    const incoming = await callIn(peers, "alice", "in"); // alice's call to bob, welcomed first
    expect(incoming.sentTypes).toEqual(["peer_welcome"]);
    out!.deliver({ t: "peer_welcome", user: "alice" }); // then bob's own call is welcomed too
    const conn = await opened;
    // "alice" < "bob": the link alice opened (bob's incoming one) is the session.
    expect(typeof conn === "string" ? conn : conn.link).toBe(incoming);
    expect(out!.ended).toBe(true);
    expect(incoming.isOpen).toBe(true);
    expect(peers.openSessions).toEqual(["alice"]);
  });
});

describe("router", () => {
  function linked() {
    const router = new PeerRouter(silentLogger);
    const link = new FakeLink();
    const conn = new PeerConn("alice", link);
    link.attach({ frame: (f) => router.route(conn, f), close: () => {} });
    return { router, link, conn };
  }

  test("each message type goes to the handler registered for it", () => {
    const { router, link } = linked();
    const got: string[] = [];
    router.on("pm", (c, m) => got.push(`${c.user}: ${m.text}`));
    router.on("chunk_cancel", (_c, m) => got.push(`cancel ${m.req}`));
    router.onData((_c, stream, body) => got.push(`data ${stream} ${body.byteLength}`));
    link.deliver({ t: "pm", text: "hi" });
    link.deliver({ t: "chunk_cancel", req: 7 });
    link.deliverFrame({ kind: KIND_DATA, stream: 3, body: new Uint8Array(5) });
    expect(got).toEqual(["alice: hi", "cancel 7", "data 3 5"]);
    expect(link.destroyed).toBeNull();
  });

  test("a message nobody handles (a handshake message after the handshake) drops the link", () => {
    const { link } = linked();
    link.deliver({ t: "peer_hello", v: 1, from: "x", token: "y" });
    expect(link.destroyed).toBe("unexpected frame");
  });

  test("a message that fails validation drops the link with the reason", () => {
    const { link } = linked();
    link.deliver({ t: "pm" });
    expect(link.destroyed).toBe("pm.text: expected str");
  });

  test("a second handler for one type is refused", () => {
    const { router } = linked();
    router.on("pm", () => {});
    expect(() => router.on("pm", () => {})).toThrow("already has a handler");
  });

  test("private chat registers pm and pm_stop and prints through its output", async () => {
    const clock = new ManualClock();
    const peers = new Peers(new PeerRouter(silentLogger), silentLogger, clock);
    const printed: string[] = [];
    new Chat(peers, { print: (t) => void printed.push(t) });
    const { session } = await fakeServer(clock, () => ({ code: "token_ok", user: "alice", cert: FAKE_CERT }));
    peers.ready("bob", session);
    const link = await callIn(peers, "alice", "tok");
    link.deliver({ t: "pm", text: "hello\u001b[2J" });
    link.deliver({ t: "pm_stop" });
    expect(printed).toEqual([T.privateChat("alice", "hello"), T.peerStoppedPrivate("alice")]);
    expect(peers.openSessions).toEqual([]);
  });
});
