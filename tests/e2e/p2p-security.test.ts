/**
 * behaviour.md §6 "a peer connection must prove who is calling", attacked over raw TCP:
 * forged and replayed tokens at a client's peer port are rejected and the client
 * keeps working; a blocked caller is given no address; a peer killed with SIGKILL
 * mid-session is noticed by the other side.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { encodeFrame, KIND_JSON } from "../../src/protocol/frame.ts";
import { cleanup, loginAll, loginClient, startServer } from "./harness.ts";
import { expectReply, outputOf } from "./helpers.ts";
import { P, allShown, expectQuiet, peerPortOf, waitAll } from "./p2pkit.ts";
import { createIdentity } from "../../src/net/identity.ts";
import { T } from "../../src/client/texts.ts";
import { closeAllRaw, RawConn, rawPeerIdentity, rawRequest } from "./rawconn.ts";

afterEach(async () => {
  closeAllRaw();
  await cleanup();
});

/** Open a raw connection to a peer port, send `hello`, and expect a peer_reject and a close. */
async function expectRejected(port: number, hello: Record<string, unknown>): Promise<void> {
  const c = await RawConn.openPeer(port);
  c.send(hello);
  const r = await c.waitFor(() => true, 5000).catch((e) => ({ t: `<${(e as Error).message}>` }));
  expect({ hello, answer: r.t }).toEqual({ hello, answer: "peer_reject" });
  // Whatever the caller sends next is ignored, and the callee hangs up.
  c.send({ t: "pm", text: "sneaky follow-up" });
  expect(await c.closedWithin(3000)).toBe(true);
  c.destroy();
}

/** Like expectRejected, presenting another certificate. */
async function expectRejectedWith(port: number, hello: Record<string, unknown>, identity: Awaited<ReturnType<typeof createIdentity>>): Promise<void> {
  const c = await RawConn.openPeer(port, { identity });
  c.send(hello);
  const r = await c.waitFor(() => true, 5000).catch((e) => ({ t: `<${(e as Error).message}>` }));
  expect(r.t).toBe("peer_reject");
  expect(await c.closedWithin(3000)).toBe(true);
  c.destroy();
}

describe("peer port: who is calling must be proved (behaviour.md §6)", () => {
  test("forged handshakes and junk at a client's peer port are rejected; the client shows nothing and keeps working", async () => {
    const s = await startServer();
    const { hans, luke } = await loginAll(s.port, ["hans", "luke"], ["luke"]);
    const port = await peerPortOf(luke);
    // Connections that never finish a handshake: one silent, one stopping mid-frame.
    const silent = await RawConn.openPeer(port);
    const half = await RawConn.openPeer(port);
    half.sendBytes(encodeFrame(KIND_JSON, new TextEncoder().encode('{"t":"peer_hello","v":1}')).subarray(0, 12));
    const openedAt = Date.now();

    // Made-up tokens, posing as a user who is online and as one who is not.
    await expectRejected(port, { t: "peer_hello", v: 1, from: "hans", token: "forged" });
    await expectRejected(port, { t: "peer_hello", v: 1, from: "hans", token: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" });
    await expectRejected(port, { t: "peer_hello", v: 1, from: "vader", token: "" });
    // A text before any handshake.
    await expectRejected(port, { t: "pm", text: "sneaky" });
    await expectRejected(port, { t: "pm_stop" });
    // Wrong version, malformed hello.
    await expectRejected(port, { t: "peer_hello", v: 99, from: "hans", token: "x" });
    await expectRejected(port, { t: "peer_hello", from: "hans" });

    // Junk that is not even frames: dropped without a word.
    for (const junk of [
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), // length prefix far over the limit
      new Uint8Array([0, 0, 0, 0, 1]), // zero length
      encodeFrame(9, new Uint8Array([1, 2, 3])), // unknown kind
      encodeFrame(KIND_JSON, new TextEncoder().encode("{not json")),
    ]) {
      const c = await RawConn.openPeer(port);
      c.sendBytes(junk);
      expect(await c.closedWithin(3000)).toBe(true);
      expect(c.received.filter((m) => m.t === "peer_welcome")).toEqual([]);
      c.destroy();
    }

    // Callers that do not do mutual TLS: plain TCP, and TLS without a certificate.
    for (const opts of [{ plain: true }, { identity: null }]) {
      const c = await RawConn.openPeer(port, opts);
      c.send({ t: "peer_hello", v: 1, from: "hans", token: "x" });
      expect(await c.closedWithin(3000)).toBe(true);
      expect(c.received.filter((m) => m.t === "peer_welcome" || m.t === "peer_reject")).toEqual([]);
      c.destroy();
    }

    // Luke printed nothing for any of it...
    await expectQuiet(luke);
    expect((await allShown(luke)).filter((l) => /private|sneaky|hans|vader/i.test(l))).toEqual([]);
    // ...and still works, for the server and for a genuine caller.
    hans.send("message luke still with us?");
    await luke.out.waitFor("hans: still with us?");
    await expectReply(hans, "startprivate luke", P.started("luke"));
    hans.send("private luke the real hans");
    await luke.out.waitFor(P.chat("hans", "the real hans"));
    luke.send("private hans welcome back");
    await hans.out.waitFor(P.chat("luke", "welcome back"));
    expect(luke.out.seen.filter((l) => l.includes("(private)"))).toEqual([P.chat("hans", "the real hans")]);

    // The half-open connections did not block any of that, and are dropped after the
    // handshake time limit (PEER_HANDSHAKE_MS, 5 s) rather than kept forever.
    expect(silent.closed || half.closed).toBe(false);
    expect(await silent.closedWithin(7000 - (Date.now() - openedAt))).toBe(true);
    expect(await half.closedWithin(500)).toBe(true);
    expect(silent.received.concat(half.received).filter((m) => m.t === "peer_welcome")).toEqual([]);
    luke.send("private hans still fine");
    await hans.out.waitFor(P.chat("luke", "still fine"));
  }, 15_000);

  test("a genuine token works once; replayed, or shown by another name or at another port, it is rejected", async () => {
    const s = await startServer();
    const { luke, yoda } = await loginAll(s.port, ["luke", "yoda"], ["luke", "yoda"]);
    const lukePort = await peerPortOf(luke);
    const yodaPort = await peerPortOf(yoda);
    // "hans" is a raw protocol client: it gets real tokens from the server.
    const hans = await RawConn.login(s.port, "hans", { peerPort: 1 });
    await waitAll(luke.out, ["hans logged in"]);
    await waitAll(yoda.out, ["hans logged in"]);

    const grant = await rawRequest(hans, { t: "peer_request", user: "luke" });
    expect(grant).toMatchObject({ code: "peer", user: "luke", port: lukePort });
    const token = grant.token as string;
    expect(typeof token).toBe("string");
    expect(token.length).toBeGreaterThanOrEqual(16);

    // First use: accepted, and the link carries private texts both ways.
    const first = await RawConn.openPeer(lukePort);
    first.send({ t: "peer_hello", v: 1, from: "hans", token });
    expect(await first.waitFor(() => true)).toEqual({ t: "peer_welcome", user: "luke" });
    first.send({ t: "pm", text: "genuine" });
    await luke.out.waitFor(P.chat("hans", "genuine"));
    luke.send("private hans got it");
    expect(await first.waitFor("pm")).toMatchObject({ t: "pm", text: "got it" });
    first.destroy();
    await luke.out.waitFor(P.ended("hans"));

    // The same token again: rejected (the server spent it on first use).
    await expectRejected(lukePort, { t: "peer_hello", v: 1, from: "hans", token });

    // A fresh token, presented under another caller's name: rejected.
    const t2 = (await rawRequest(hans, { t: "peer_request", user: "luke" })).token as string;
    await expectRejected(lukePort, { t: "peer_hello", v: 1, from: "yoda", token: t2 });
    // A fresh token for luke, presented at yoda's port: rejected.
    const t3 = (await rawRequest(hans, { t: "peer_request", user: "luke" })).token as string;
    await expectRejected(yodaPort, { t: "peer_hello", v: 1, from: "hans", token: t3 });
    // ...and each of those spent its token: the right use afterwards fails too.
    await expectRejected(lukePort, { t: "peer_hello", v: 1, from: "hans", token: t2 });
    await expectRejected(lukePort, { t: "peer_hello", v: 1, from: "hans", token: t3 });

    // Nothing from the forged attempts reached a screen.
    await expectQuiet(luke);
    await expectQuiet(yoda);
    expect(luke.out.seen.filter((l) => l.includes("(private)"))).toEqual([P.chat("hans", "genuine")]);
    expect(luke.out.seen.filter((l) => l.startsWith("yoda("))).toEqual([]);
    expect(yoda.out.seen.filter((l) => l.includes("private"))).toEqual([]);

    // Both victims keep working.
    yoda.send("message luke still here");
    await luke.out.waitFor("yoda: still here");
    await expectReply(yoda, "startprivate luke", P.started("luke"));
    yoda.send("private luke all good");
    await luke.out.waitFor(P.chat("yoda", "all good"));
    // And a new genuine token still opens a new link.
    const t4 = (await rawRequest(hans, { t: "peer_request", user: "luke" })).token as string;
    const again = await RawConn.openPeer(lukePort);
    again.send({ t: "peer_hello", v: 1, from: "hans", token: t4 });
    expect(await again.waitFor(() => true)).toEqual({ t: "peer_welcome", user: "luke" });
  });

  test("a valid token stolen by someone with a certificate of their own is refused (the callee checks the caller's certificate)", async () => {
    const s = await startServer();
    const luke = await loginClient(s.port, "luke", ["-d"]);
    const lukePort = await peerPortOf(luke);
    const hans = await RawConn.login(s.port, "hans", { peerPort: 1 }); // peerCert: rawPeerIdentity's
    await luke.out.waitFor("hans logged in");
    const grant = await rawRequest(hans, { t: "peer_request", user: "luke" });
    expect(grant.code).toBe("peer");
    // The thief has the token (and hans's name) but not hans's key.
    const thief = await createIdentity("thief");
    await expectRejectedWith(lukePort, { t: "peer_hello", v: 1, from: "hans", token: grant.token }, thief);
    await luke.err.waitFor(/peer link from .* rejected: certificate SHA256:\S+ of "hans" is not the one the server vouches for/);
    await expectQuiet(luke);
    expect(luke.out.seen.filter((l) => l.includes("private"))).toEqual([]);
    // With hans's own certificate a fresh token works.
    const t2 = (await rawRequest(hans, { t: "peer_request", user: "luke" })).token;
    const real = await RawConn.openPeer(lukePort);
    real.send({ t: "peer_hello", v: 1, from: "hans", token: t2 });
    expect(await real.waitFor(() => true)).toEqual({ t: "peer_welcome", user: "luke" });
  });

  test("a fake callee at the right port with the wrong certificate is refused by the caller before anything is sent", async () => {
    const s = await startServer();
    // The fake listens where "luke" said its peer port is, with a certificate that is not the one luke gave.
    const impostor = await createIdentity("impostor");
    let received = 0;
    const fake = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      tls: { key: impostor.key, cert: impostor.cert, requestCert: true, rejectUnauthorized: false },
      socket: {
        data: (_s, chunk) => void (received += chunk.byteLength),
      },
    });
    try {
      const luke = await RawConn.login(s.port, "luke", { peerPort: fake.port, peerCert: (await rawPeerIdentity()).fingerprint });
      const hans = await loginClient(s.port, "hans", ["-d"]);
      await expectReply(hans, "startprivate luke", T.peerUnreachable("luke"));
      await hans.err.waitFor(/peer link refused: certificate SHA256:\S+ is not the one the server vouched for/);
      // The log line above shows the fake's certificate reached the caller; not one byte of
      // the protocol crossed (no peer_hello, so no token for the impostor).
      expect(received).toBe(0);
      luke.destroy();
    } finally {
      fake.stop(true);
    }
  });

  test("a caller the callee has blocked is given no address and no token", async () => {
    const s = await startServer();
    const luke = await loginClient(s.port, "luke");
    const hans = await RawConn.login(s.port, "hans");
    await luke.out.waitFor("hans logged in");
    await expectReply(luke, "block hans", "hans is blocked");

    const r = await rawRequest(hans, { t: "peer_request", user: "luke" });
    expect(r.code).toBe("blocked_you");
    expect(r).not.toHaveProperty("host");
    expect(r).not.toHaveProperty("port");
    expect(r).not.toHaveProperty("token");
    // Offline and unknown users give nothing away either.
    for (const user of ["vader", "nobody"]) {
      const o = await rawRequest(hans, { t: "peer_request", user });
      expect(o.code).toBe(user === "vader" ? "offline" : "invalid_user");
      expect(o).not.toHaveProperty("token");
      expect(o).not.toHaveProperty("port");
    }
  });
});

describe("a peer killed mid-session (behaviour.md §6, §8)", () => {
  test("SIGKILL: the callee and the caller of the dead client are told, `private` says it is gone, both keep working", async () => {
    const s = await startServer();
    const { hans, yoda, luke } = await loginAll(s.port, ["hans", "yoda", "luke"]);

    await expectReply(hans, "startprivate luke", P.started("luke")); // luke is hans's callee
    await expectReply(yoda, "startprivate hans", P.started("hans")); // yoda is hans's caller
    hans.send("private luke before");
    await luke.out.waitFor(P.chat("hans", "before"));
    yoda.send("private hans before");
    await hans.out.waitFor(P.chat("yoda", "before"));

    hans.proc.kill("SIGKILL");
    await hans.proc.exited;
    await waitAll(luke.out, [P.ended("hans"), P.loggedOut("hans")]);
    await waitAll(yoda.out, [P.ended("hans"), P.loggedOut("hans")]);

    await expectReply(luke, "private hans are you there", P.gone("hans"));
    await expectReply(yoda, "private hans are you there", P.gone("hans"));
    await expectReply(luke, "private hans hello?", P.notEnabled("hans"));
    await expectReply(yoda, "startprivate hans", P.offline("hans"));

    // The survivors carry on, with the server and with each other.
    expect(await outputOf(luke, "whoelse")).toEqual(["yoda"]);
    await expectReply(luke, "startprivate yoda", P.started("yoda"));
    luke.send("private yoda he is gone");
    await yoda.out.waitFor(P.chat("luke", "he is gone"));
  });
});
