/**
 * behaviour.md §11 through the compiled programs: servers sharing one Redis (--redis) are
 * one service for what lives in shared state — one session per user, the lockout,
 * offline messages, block lists, whoelse and whoelsesince — whichever server each
 * client uses.
 */
import { afterAll, afterEach, expect, test } from "bun:test";
import { cleanup, loginClient, runToEnd, SERVER_BIN, typeLogin } from "./harness.ts";
import { exitCode, expectReply } from "./helpers.ts";
import { startCluster } from "./cluster-kit.ts";
import { stopAllRedis } from "./redis.ts";

afterEach(cleanup);
afterAll(stopAllRedis);

const STORED = "yoda is offline. Your message will be delivered when they log in";

test("one session per user across servers; failed logins counted across servers", async () => {
  const { nodes } = await startCluster(2, { block: 30 });
  const [a, b] = [nodes[0]!.port, nodes[1]!.port];
  const hans = await loginClient(a, "hans");
  const again = await typeLogin(b, "hans");
  await again.out.waitFor("Error. hans is already logged in");
  expect(await exitCode(again.proc)).not.toBe("still running");
  await expectReply(hans, "whoelse", "No other users online");

  const y1 = await typeLogin(a, "yoda", "nope");
  await y1.out.waitFor("Invalid Password. Please try again");
  y1.send("wrong");
  await y1.out.waitFor("Invalid Password. Please try again");
  const y2 = await typeLogin(b, "yoda", "still-wrong");
  await y2.out.waitFor("Invalid Password. Your account has been blocked. Please try again later");
  const y3 = await typeLogin(a, "yoda");
  await y3.out.waitFor("Your account is blocked due to multiple login failures. Please try again later");
});

test("stored through one server, shown at a login through another; a block made on one holds on the other; whoelse sees every server", async () => {
  const { nodes } = await startCluster(2);
  const [a, b] = [nodes[0]!.port, nodes[1]!.port];
  const hans = await loginClient(a, "hans");
  await expectReply(hans, "message yoda while you were out", STORED);
  const yoda = await loginClient(b, "yoda");
  await yoda.out.waitFor("hans: while you were out");
  await hans.out.waitFor("yoda logged in");
  await expectReply(hans, "whoelse", "yoda");
  await expectReply(yoda, "block hans", "hans is blocked");
  yoda.send("logout");
  await yoda.out.waitFor(/Goodbye/);
  await expectReply(hans, "message yoda let me in", "Your message could not be delivered as the recipient has blocked you");
  await expectReply(hans, "whoelse", "No other users online");
  // yoda blocks hans: hidden from him; luke, who came and went through the other server, is not.
  const luke = await loginClient(b, "luke");
  await hans.out.waitFor("luke logged in");
  luke.send("logout");
  await hans.out.waitFor("luke logged out");
  await expectReply(hans, "whoelsesince 60", "luke");
});

test("Redis unreachable at start: one line naming the URL, exit 1", async () => {
  const r = await runToEnd([SERVER_BIN, "65000", "10", "10", "--redis", "redis://127.0.0.1:1"]);
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split("\n")).toEqual(["error: Cannot reach Redis at redis://127.0.0.1:1"]);
  const bad = await runToEnd([SERVER_BIN, "65000", "10", "10", "--redis", "http://x"]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("Invalid Redis URL http://x");
});
