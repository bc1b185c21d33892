/**
 * behaviour.md §4 "Blocking means": if B blocked A, A's messages and broadcasts never
 * reach B, B's login and logout are not announced to A, and B is hidden from A's
 * whoelse and whoelsesince. A is never told it was blocked.
 */
import { afterEach, expect, test } from "bun:test";
import { cleanup, loginAll, loginClient, startServer } from "./harness.ts";
import { exitCode, expectReply, outputOf } from "./helpers.ts";

afterEach(cleanup);

const sorted = (a: string[]) => [...a].sort();
const BLOCKED_YOU = "Your message could not be delivered as the recipient has blocked you";
const PARTIAL = "Your message could not be delivered to some recipients";

test("a blocked user's messages and broadcasts do not reach the blocker; unblock restores them", async () => {
  const { port } = await startServer();
  const { hans, yoda, luke } = await loginAll(port, ["hans", "yoda", "luke"]);

  await expectReply(luke, "block hans", "hans is blocked");
  expect(await hans.out.drain(200)).toEqual([]); // hans is never told

  await expectReply(hans, "message luke let me in", BLOCKED_YOU);
  await expectReply(hans, "broadcast to all", PARTIAL);
  expect(await yoda.out.waitFor(/./)).toBe("hans: to all");

  // Others are unaffected: yoda's broadcast reaches both, with no partial-delivery notice.
  expect(await outputOf(yoda, "broadcast from yoda")).toEqual([]);
  expect(await luke.out.waitFor(/./)).toBe("yoda: from yoda");
  expect(await hans.out.waitFor(/./)).toBe("yoda: from yoda");
  // Blocking is one-way: luke can still message hans.
  expect(await outputOf(luke, "message hans no hard feelings")).toEqual([]);
  expect(await hans.out.waitFor(/./)).toBe("luke: no hard feelings");
  // Nothing from hans ever reached luke.
  expect(await luke.out.drain(200)).toEqual([]);
  expect(luke.out.seen.filter((l) => l.startsWith("hans:"))).toEqual([]);

  // The block holds while luke is offline: nothing is stored for him either.
  luke.send("logout");
  await yoda.out.waitFor("luke logged out");
  expect(await exitCode(luke.proc)).toBe(0);
  await expectReply(hans, "message luke while you are away", BLOCKED_YOU);
  const luke2 = await loginClient(port, "luke");
  expect(await luke2.out.drain(300)).toEqual([]);

  // Unblock: delivery works again.
  await expectReply(luke2, "unblock hans", "hans is unblocked");
  expect(await outputOf(hans, "message luke friends again")).toEqual([]);
  expect(await luke2.out.waitFor(/^hans: /)).toBe("hans: friends again");
  expect(await outputOf(hans, "broadcast all of you")).toEqual([]);
  expect(await luke2.out.waitFor(/^hans: /)).toBe("hans: all of you");
});

test("the blocker's presence is hidden from the blocked user (announcements, whoelse, whoelsesince)", async () => {
  const { port } = await startServer();
  const { hans, yoda, luke } = await loginAll(port, ["hans", "yoda", "luke"]);
  await expectReply(luke, "block hans", "hans is blocked");

  // Hidden from hans's whoelse and whoelsesince while online; yoda still sees luke.
  expect(await outputOf(hans, "whoelse")).toEqual(["yoda"]);
  expect(await outputOf(hans, "whoelsesince 60")).toEqual(["yoda"]);
  expect(sorted(await outputOf(yoda, "whoelse"))).toEqual(["hans", "luke"]);

  // luke's logout and login are announced to yoda, not to hans.
  luke.send("logout");
  await yoda.out.waitFor("luke logged out");
  expect(await exitCode(luke.proc)).toBe(0);
  // ...and luke, logged out inside the window, is still hidden from hans's whoelsesince.
  expect(await outputOf(hans, "whoelsesince 60")).toEqual(["yoda"]);
  expect(sorted(await outputOf(yoda, "whoelsesince 60"))).toEqual(["hans", "luke"]);

  const luke2 = await loginClient(port, "luke");
  await yoda.out.waitFor("luke logged in");
  expect(await hans.out.drain(300)).toEqual([]);
  expect(hans.out.seen.filter((l) => /^luke logged (in|out)$/.test(l))).toEqual(["luke logged in"]); // only the one before the block
  expect(await outputOf(hans, "whoelse")).toEqual(["yoda"]);

  // hans's own presence is still shown to luke (luke blocked hans, not the other way round).
  hans.send("logout");
  await luke2.out.waitFor("hans logged out");

  // After unblocking, luke is visible to hans again.
  await expectReply(luke2, "unblock hans", "hans is unblocked");
  const hans2 = await loginClient(port, "hans");
  await luke2.out.waitFor("hans logged in");
  expect(sorted(await outputOf(hans2, "whoelse"))).toEqual(["luke", "yoda"]);
  luke2.send("logout");
  await hans2.out.waitFor("luke logged out");
});
