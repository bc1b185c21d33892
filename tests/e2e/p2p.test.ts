/**
 * behaviour.md §6 peer to peer, as users see it, with real ./server and ./client processes:
 * sample interaction 7 of the reference assignment, every error text of the table,
 * stopprivate on both sides, a session opened before a block, sessions ended by
 * logout and by timeout, and private chat counting as activity (behaviour.md §5).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { cleanup, loginAll, startServer } from "./harness.ts";
import { exitCode, expectReply, outputOf } from "./helpers.ts";
import { P, allShown, expectQuiet, waitAll } from "./p2pkit.ts";

afterEach(cleanup);

describe("private messaging (behaviour.md §6)", () => {
  test("sample interaction 7: private before startprivate, startprivate, both directions, a server message in between, logout seen by others", async () => {
    const s = await startServer();
    const { hans, yoda, luke } = await loginAll(s.port, ["hans", "yoda", "luke"]);

    await expectReply(hans, "private luke hey dude", P.notEnabled("luke"));
    await expectQuiet(luke);

    await expectReply(hans, "startprivate luke", P.started("luke"));
    hans.send("private luke hey dude");
    await luke.out.waitFor(P.chat("hans", "hey dude"));

    // The callee needs no startprivate to answer.
    luke.send("private hans hello");
    await hans.out.waitFor(P.chat("luke", "hello"));

    // The server keeps relaying while the direct link is up.
    hans.send("message yoda force is strong");
    await yoda.out.waitFor("hans: force is strong");

    hans.send("logout");
    await hans.out.waitFor("Goodbye");
    expect(await exitCode(hans.proc)).toBe(0);
    await yoda.out.waitFor(P.loggedOut("hans"));
    await waitAll(luke.out, [P.loggedOut("hans"), P.ended("hans")]);

    // Private texts went to luke only; yoda had no session, so sees no "ended" line.
    const yodaSaw = await allShown(yoda);
    expect(yodaSaw.filter((l) => l.includes("(private)") || l.includes("Private messaging"))).toEqual([]);
    // Each private text was shown exactly once, to the right user.
    expect((await allShown(luke)).filter((l) => l.includes("(private)"))).toEqual([P.chat("hans", "hey dude")]);
    expect(hans.out.seen.filter((l) => l.includes("(private)"))).toEqual([P.chat("luke", "hello")]);
  });

  test("every error text of the startprivate / private / stopprivate table", async () => {
    const s = await startServer();
    const { hans, yoda, luke } = await loginAll(s.port, ["hans", "yoda", "luke"]);

    await expectReply(hans, "startprivate nobody", P.invalidUser);
    await expectReply(hans, "startprivate hans", P.self);
    await expectReply(hans, "startprivate vader", P.offline("vader")); // vader is a user, not logged in
    await expectReply(hans, "private yoda are you there", P.notEnabled("yoda"));
    await expectReply(hans, "stopprivate yoda", P.noSession("yoda"));

    await expectReply(yoda, "block hans", "hans is blocked");
    await expectReply(hans, "startprivate yoda", P.blockedYou("yoda"));
    // The refusal opened nothing: still no session either way.
    await expectReply(hans, "private yoda hi", P.notEnabled("yoda"));
    await expectReply(yoda, "private hans hi", P.notEnabled("hans"));

    await expectReply(hans, "startprivate luke", P.started("luke"));
    await expectReply(hans, "startprivate luke", P.active("luke"));
    // Active from the callee's side too, although luke never typed startprivate.
    await expectReply(luke, "startprivate hans", P.active("hans"));

    // Missing arguments.
    await expectReply(hans, "startprivate", "Error. Usage: startprivate <user>");
    await expectReply(hans, "private luke", "Error. Usage: private <user> <text>");
    await expectReply(hans, "stopprivate", "Error. Usage: stopprivate <user>");

    // The session survived all of that.
    hans.send("private luke still on");
    await luke.out.waitFor(P.chat("hans", "still on"));
    expect(luke.out.seen.filter((l) => l.includes("(private)"))).toEqual([P.chat("hans", "still on")]);
    expect(yoda.out.seen.filter((l) => l.includes("(private)"))).toEqual([]);
  });

  test("stopprivate: both sides are told, the session is gone both ways, and it can be started again (from either side)", async () => {
    const s = await startServer();
    const { hans, luke } = await loginAll(s.port, ["hans", "luke"]);

    await expectReply(hans, "startprivate luke", P.started("luke"));
    hans.send("private luke one");
    await luke.out.waitFor(P.chat("hans", "one"));

    await expectReply(hans, "stopprivate luke", P.stopped("luke"));
    await luke.out.waitFor(P.peerStopped("hans"));
    await expectReply(hans, "private luke two", P.notEnabled("luke"));
    await expectReply(luke, "private hans two", P.notEnabled("hans"));
    await expectReply(hans, "stopprivate luke", P.noSession("luke"));
    await expectReply(luke, "stopprivate hans", P.noSession("hans"));
    // A deliberate stop is not reported as the session ending.
    expect((await allShown(luke)).filter((l) => l === P.ended("hans"))).toEqual([]);
    expect((await allShown(hans)).filter((l) => l === P.ended("luke"))).toEqual([]);

    // Started again, this time by the former callee; then stopped by the other side.
    await expectReply(luke, "startprivate hans", P.started("hans"));
    hans.send("private luke three");
    await luke.out.waitFor(P.chat("hans", "three"));
    await expectReply(hans, "stopprivate luke", P.stopped("luke"));
    await luke.out.waitFor(P.peerStopped("hans"));
    await expectReply(luke, "private hans four", P.notEnabled("hans"));
    expect(luke.out.seen.filter((l) => l.includes("(private)"))).toEqual([P.chat("hans", "one"), P.chat("hans", "three")]);
  });

  test("both start at once: each sees the start line, they share one session, and one stopprivate ends it for both", async () => {
    const s = await startServer();
    const { hans, luke } = await loginAll(s.port, ["hans", "luke"]);
    for (let round = 1; round <= 4; round++) {
      // Both commands go in while both clients are stopped, so that each reads its own
      // before the other's call can reach it (sent one after the other to running
      // clients, a loaded machine let hans's session land first; luke was then rightly
      // told it is already active, and the crossing was never tested).
      for (const c of [hans, luke]) c.proc.kill("SIGSTOP");
      hans.send("startprivate luke");
      luke.send("startprivate hans");
      for (const c of [hans, luke]) c.proc.kill("SIGCONT");
      expect(await hans.out.waitFor(/^Start private messaging with luke$|^Error\. /)).toBe(P.started("luke"));
      expect(await luke.out.waitFor(/^Start private messaging with hans$|^Error\. /)).toBe(P.started("hans"));
      hans.send(`private luke ping ${round}`);
      luke.send(`private hans pong ${round}`);
      await luke.out.waitFor(P.chat("hans", `ping ${round}`));
      await hans.out.waitFor(P.chat("luke", `pong ${round}`));
      // Alternate who stops; either way the one session is gone for both.
      const [stopper, a, other, b] = round % 2 ? [hans, "hans", luke, "luke"] : [luke, "luke", hans, "hans"];
      await expectReply(stopper, `stopprivate ${b}`, P.stopped(b));
      await other.out.waitFor(P.peerStopped(a));
      await expectReply(other, `private ${a} still there?`, P.notEnabled(a));
      await expectReply(stopper, `private ${b} still there?`, P.notEnabled(b));
    }
    // No second link left behind: no stray "ended" line, no text shown twice.
    for (const [c, peer] of [[hans, "luke"], [luke, "hans"]] as const) {
      const shown = await allShown(c);
      expect(shown.filter((l) => l === P.ended(peer))).toEqual([]);
      expect(shown.filter((l) => l.includes("(private)")).length).toBe(4);
    }
  });

  test("a session opened before the peer blocked the caller keeps working; a new one is refused", async () => {
    const s = await startServer();
    const { hans, luke } = await loginAll(s.port, ["hans", "luke"]);

    await expectReply(hans, "startprivate luke", P.started("luke"));
    await expectReply(luke, "block hans", "hans is blocked");
    hans.send("private luke you cannot block this");
    await luke.out.waitFor(P.chat("hans", "you cannot block this"));
    luke.send("private hans watch me");
    await hans.out.waitFor(P.chat("luke", "watch me"));
    // The server-side block is in force meanwhile.
    await expectReply(hans, "message luke hi", "Your message could not be delivered as the recipient has blocked you");

    await expectReply(hans, "stopprivate luke", P.stopped("luke"));
    await luke.out.waitFor(P.peerStopped("hans"));
    await expectReply(hans, "startprivate luke", P.blockedYou("luke"));
    await expectReply(hans, "private luke again", P.notEnabled("luke"));
  });

  test("logout ends every session: each peer is told, `private` then says the user is gone, and the session is dropped", async () => {
    const s = await startServer();
    const { hans, yoda, luke } = await loginAll(s.port, ["hans", "yoda", "luke"]);

    await expectReply(hans, "startprivate luke", P.started("luke")); // hans is the caller here
    await expectReply(yoda, "startprivate hans", P.started("hans")); // and the callee here
    hans.send("private yoda hi yoda");
    await yoda.out.waitFor(P.chat("hans", "hi yoda"));

    hans.send("logout");
    await hans.out.waitFor("Goodbye");
    expect(await exitCode(hans.proc)).toBe(0);
    await waitAll(luke.out, [P.loggedOut("hans"), P.ended("hans")]);
    await waitAll(yoda.out, [P.loggedOut("hans"), P.ended("hans")]);

    await expectReply(luke, "private hans are you there", P.gone("hans"));
    await expectReply(luke, "private hans hello?", P.notEnabled("hans")); // dropped after the first
    await expectReply(yoda, "stopprivate hans", P.noSession("hans"));
    await expectReply(yoda, "startprivate hans", P.offline("hans"));
    // luke and yoda are unaffected otherwise.
    luke.send("message yoda still here");
    await yoda.out.waitFor("luke: still here");
  });
});

describe("private messaging and the inactivity timeout (behaviour.md §5, §6)", () => {
  test("a timed-out user's sessions end: the peer is told and `private` says the user is gone", async () => {
    const s = await startServer({ timeout: 2 });
    const { hans, luke } = await loginAll(s.port, ["hans", "luke"]);
    await expectReply(luke, "startprivate hans", P.started("hans"));
    // Luke stays active (private is activity); hans only receives.
    for (let i = 1; i <= 2; i++) {
      await Bun.sleep(700);
      luke.send(`private hans ping ${i}`);
      await hans.out.waitFor(P.chat("luke", `ping ${i}`));
    }
    await hans.out.waitFor(P.timedOut, 3000);
    expect(await exitCode(hans.proc)).toBe(0);
    await waitAll(luke.out, [P.loggedOut("hans"), P.ended("hans")]);
    await expectReply(luke, "private hans wake up", P.gone("hans"));
    await expectReply(luke, "private hans hello?", P.notEnabled("hans"));
    expect(luke.out.seen).not.toContain(P.timedOut);
  }, 15_000);

  test("`private` counts as activity: two users who only chat privately every 0.7 s with timeout 2 s stay logged in", async () => {
    const s = await startServer({ timeout: 2 });
    const { hans, luke } = await loginAll(s.port, ["hans", "luke"]);
    await expectReply(hans, "startprivate luke", P.started("luke"));
    const start = Date.now();
    for (let i = 1; Date.now() - start < 4200; i++) {
      await Bun.sleep(700);
      hans.send(`private luke ping ${i}`);
      luke.send(`private hans pong ${i}`);
      await luke.out.waitFor(P.chat("hans", `ping ${i}`));
      await hans.out.waitFor(P.chat("luke", `pong ${i}`));
    }
    // More than twice the timeout has passed with nothing but private texts.
    expect(await outputOf(hans, "whoelse")).toEqual(["luke"]);
    expect(await outputOf(luke, "whoelse")).toEqual(["hans"]);
    for (const c of [hans, luke]) {
      expect(c.out.seen).not.toContain(P.timedOut);
      expect(c.proc.exitCode).toBeNull();
    }
  }, 15_000);

  test("being called is not activity: a user who only receives startprivate calls still times out", async () => {
    const s = await startServer({ timeout: 2 });
    const { hans, luke } = await loginAll(s.port, ["hans", "luke"]);
    const loggedIn = Date.now();
    const kicked = hans.out.waitFor(P.timedOut, 4500);
    let done = false;
    void kicked.then(() => (done = true), () => (done = true));
    // Luke keeps calling hans (each call makes hans's client check the token with the server).
    while (!done && Date.now() - loggedIn < 4500) {
      const got = await outputOf(luke, "startprivate hans");
      if (!got.includes(P.started("hans"))) break; // hans has gone meanwhile
      luke.send("stopprivate hans");
      await luke.out.waitFor(/^Stopped private messaging with hans$|^Error\. /);
      await Bun.sleep(300);
    }
    await kicked;
    // Timeout 2 s after hans's login, plus slack; far earlier than luke's calls would allow if they counted.
    expect(Date.now() - loggedIn).toBeLessThan(3200);
    // Luke's loop may already have read the notice while waiting for its own lines.
    if (!luke.out.seen.includes(P.loggedOut("hans"))) await luke.out.waitFor(P.loggedOut("hans"));
  }, 15_000);
});
