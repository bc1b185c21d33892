/**
 * behaviour.md §8 "no unbounded memory", at a client's peer port: unauthenticated callers
 * announcing big frames and then trickling cannot make the client hold them (the
 * frame limit is 4 KiB until the handshake is done), and at most 16 of them wait
 * for a handshake at a time. The client keeps working meanwhile.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { cleanup, loginAll, startServer } from "./harness.ts";
import { expectReply, outputOf } from "./helpers.ts";
import { P, peerPortOf } from "./p2pkit.ts";
import { closeAllRaw, header, RawConn, rssBytes, type RawMsg } from "./rawconn.ts";

afterEach(async () => {
  closeAllRaw();
  await cleanup();
});

const MiB = 1 << 20;
/** What the flood may add to the client's resident size (docs/limits.md). */
const RSS_BOUND = 16 * MiB;

/** `n` connections to `port`, each announcing a frame of `len` bytes and sending its first bytes. */
async function flood(port: number, n: number, len: number): Promise<RawConn<RawMsg>[]> {
  const conns: RawConn<RawMsg>[] = [];
  for (let i = 0; i < n; i++) {
    const c = await RawConn.openPeer(port);
    c.sendBytes(header(len));
    c.sendBytes(new Uint8Array(64).fill(0x20));
    conns.push(c);
  }
  return conns;
}

/** One more slice of trickle on every connection still open (bounded: callers run it a fixed number of times). */
function trickle(conns: RawConn<RawMsg>[]): void {
  for (const c of conns) if (!c.closed) c.sendBytes(new Uint8Array(16).fill(0x20));
}

describe("a client's peer port under a flood of unauthenticated callers", () => {
  test("64 callers promising 1 MiB frames, then 64 promising 4000-byte frames and trickling: RSS bounded, at most 16 wait, the client keeps working", async () => {
    const s = await startServer();
    const { hans, luke } = await loginAll(s.port, ["hans", "luke"], ["luke"]);
    const port = await peerPortOf(luke);
    const pid = luke.proc.pid;
    expect(await outputOf(luke, "whoelse")).toEqual(["hans"]);
    const before = await rssBytes(pid);

    // Headers over the handshake's frame limit: each link is dropped as soon as its header is in.
    const big = await flood(port, 64, MiB);
    for (const c of big) expect(await c.closedWithin(3000)).toBe(true);

    // Headers under it: at most MAX_PENDING_HANDSHAKES (16) are kept, the rest closed at once.
    const small = await flood(port, 64, 4000);
    for (let i = 0; i < 10; i++) {
      trickle(small);
      await Bun.sleep(50);
    }
    const open = small.filter((c) => !c.closed);
    expect(open.length).toBeLessThanOrEqual(16);
    expect(open.length).toBeGreaterThan(0);
    await luke.err.waitFor(/refused: 16 handshakes pending/);

    // Responsive meanwhile: a server round trip, and a private chat luke opens.
    hans.send("message luke under siege?");
    await luke.out.waitFor("hans: under siege?");
    expect(await outputOf(luke, "whoelse")).toEqual(["hans"]);
    await expectReply(luke, "startprivate hans", P.started("hans"));
    luke.send("private hans still here");
    await hans.out.waitFor(P.chat("luke", "still here"));
    hans.send("private luke good");
    await luke.out.waitFor(P.chat("hans", "good"));

    const after = await rssBytes(pid);
    expect(after - before).toBeLessThan(RSS_BOUND);
    console.log(`peer-port flood: luke's RSS ${(before / MiB).toFixed(1)} → ${(after / MiB).toFixed(1)} MiB`);

    // The waiting ones are dropped at the handshake time limit (5 s), and calls come in again.
    for (const c of open) expect(await c.closedWithin(8000)).toBe(true);
    for (const c of small) expect(c.received.filter((m) => m.t === "peer_welcome")).toEqual([]);
    await expectReply(hans, "stopprivate luke", P.stopped("luke"));
    await luke.out.waitFor(P.peerStopped("hans"));
    await expectReply(hans, "startprivate luke", P.started("luke"));
    hans.send("private luke after the flood");
    await luke.out.waitFor(P.chat("hans", "after the flood"));
  }, 30_000);
});
