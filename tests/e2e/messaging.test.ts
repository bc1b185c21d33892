/**
 * behaviour.md §4: the commands after login — message, broadcast, whoelse, whoelsesince,
 * block/unblock, logout, help, invalid commands and usage errors — with their exact
 * texts; offline delivery (§5) and control-character stripping.
 */
import { afterEach, expect, test } from "bun:test";
import { ServerSession } from "../../src/client/session.ts";
import { WELCOME, cleanup, loginAll, loginClient, startServer } from "./harness.ts";
import { exitCode, expectReply, outputOf } from "./helpers.ts";

afterEach(cleanup);

const sorted = (a: string[]) => [...a].sort();

test("message: online delivery, offline storage, invalid user, self", async () => {
  const { port } = await startServer();
  const { hans, luke } = await loginAll(port, ["hans", "luke"]);

  expect(await outputOf(hans, "message luke hello there,  two spaces kept")).toEqual([]);
  expect(await luke.out.waitFor(/./)).toBe("hans: hello there,  two spaces kept");

  await expectReply(hans, "message vader are you there?", "vader is offline. Your message will be delivered when they log in");
  await expectReply(hans, "message nobody hi", "Error. Invalid user");
  await expectReply(hans, "message Luke hi", "Error. Invalid user"); // case-sensitive names
  await expectReply(hans, "message hans hi me", "Error. Cannot message self");
  expect(await luke.out.drain(200)).toEqual([]);
});

test("message length: 4096 bytes is delivered, 4097 bytes (or 4098 in 2049 two-byte characters) is too long", async () => {
  const { port } = await startServer();
  const { hans, luke } = await loginAll(port, ["hans", "luke"]);
  const max = "a".repeat(4095) + "z";
  expect(await outputOf(hans, `message luke ${max}`)).toEqual([]);
  expect(await luke.out.waitFor(/^hans: /)).toBe(`hans: ${max}`);

  await expectReply(hans, `message luke ${"b".repeat(4097)}`, "Error. Message too long");
  await expectReply(hans, `message luke ${"é".repeat(2049)}`, "Error. Message too long");
  await expectReply(hans, `broadcast ${"c".repeat(4097)}`, "Error. Message too long");
  const two = "é".repeat(2048); // 4096 bytes
  expect(await outputOf(hans, `broadcast ${two}`)).toEqual([]);
  expect(await luke.out.waitFor(/^hans: /)).toBe(`hans: ${two}`);
  expect(await luke.out.drain(200)).toEqual([]);
});

test("offline messages from two senders arrive in order right after the welcome line, once", async () => {
  const { port } = await startServer();
  const { hans, yoda } = await loginAll(port, ["hans", "yoda"]);
  const stored = (u: string) => `${u} is offline. Your message will be delivered when they log in`;
  await expectReply(hans, "message luke first from hans", stored("luke"));
  await expectReply(yoda, "message luke second from yoda", stored("luke"));
  await expectReply(hans, "message luke third from hans", stored("luke"));

  const luke = await loginClient(port, "luke");
  const after = [await luke.out.waitFor(/./), await luke.out.waitFor(/./), await luke.out.waitFor(/./)];
  expect(after).toEqual(["hans: first from hans", "yoda: second from yoda", "hans: third from hans"]);
  // Exactly at the welcome line's heels: nothing came between.
  expect(luke.out.seen.slice(luke.out.seen.indexOf(WELCOME) + 1)).toEqual(after);
  expect(await luke.out.drain(200)).toEqual([]);

  // Delivered once: logging in again shows nothing stored.
  luke.send("logout");
  await luke.out.waitFor("Goodbye");
  expect(await exitCode(luke.proc)).toBe(0);
  const again = await loginClient(port, "luke");
  expect(await again.out.drain(300)).toEqual([]);
});

test("broadcast reaches everyone online except the sender; not stored for offline users", async () => {
  const { port } = await startServer();
  const { hans, yoda, luke } = await loginAll(port, ["hans", "yoda", "luke"]);

  expect(await outputOf(hans, "broadcast hello all")).toEqual([]); // no partial-delivery notice
  expect(await yoda.out.waitFor(/./)).toBe("hans: hello all");
  expect(await luke.out.waitFor(/./)).toBe("hans: hello all");

  // vader was offline: nothing stored for him.
  const vader = await loginClient(port, "vader");
  expect(await vader.out.drain(300)).toEqual([]);
});

test("whoelse lists the other online users; 'No other users online' when alone", async () => {
  const { port } = await startServer();
  const hans = await loginClient(port, "hans");
  await expectReply(hans, "whoelse", "No other users online");
  const yoda = await loginClient(port, "yoda");
  await loginClient(port, "luke");
  await hans.out.waitFor("luke logged in");
  expect(sorted(await outputOf(hans, "whoelse"))).toEqual(["luke", "yoda"]);
  yoda.send("logout");
  await hans.out.waitFor("yoda logged out");
  expect(await outputOf(hans, "whoelse")).toEqual(["luke"]);
});

test("whoelsesince: window semantics and usage errors", async () => {
  const { port } = await startServer();
  const { hans, yoda, luke } = await loginAll(port, ["hans", "yoda", "luke", "r2d2"]);

  yoda.send("logout"); // logs out before the window below
  await hans.out.waitFor("yoda logged out");
  await Bun.sleep(2200);
  luke.send("logout"); // logs out inside the window (his session began before it)
  await hans.out.waitFor("luke logged out");
  await Bun.sleep(200);

  expect(sorted(await outputOf(hans, "whoelsesince 1"))).toEqual(["luke", "r2d2"]);
  // Reaching back past the server's start: everyone who logged in since, but not vader who never did.
  expect(sorted(await outputOf(hans, "whoelsesince 3600"))).toEqual(["luke", "r2d2", "yoda"]);
  expect(await outputOf(hans, "whoelsesince 0")).toEqual(["r2d2"]);

  for (const bad of ["whoelsesince", "whoelsesince abc", "whoelsesince -1", "whoelsesince 1.5", "whoelsesince 1 2"]) {
    await expectReply(hans, bad, "Error. Usage: whoelsesince <time>");
  }
});

test("block and unblock: every text", async () => {
  const { port } = await startServer();
  const hans = await loginClient(port, "hans");
  await expectReply(hans, "block hans", "Error. Cannot block self");
  await expectReply(hans, "block nobody", "Error. Invalid user");
  await expectReply(hans, "block luke", "luke is blocked"); // luke is offline: still fine
  await expectReply(hans, "block luke", "Error. luke is already blocked");
  await expectReply(hans, "unblock hans", "Error. Cannot unblock self");
  await expectReply(hans, "unblock nobody", "Error. Invalid user");
  await expectReply(hans, "unblock luke", "luke is unblocked");
  await expectReply(hans, "unblock luke", "Error. luke was not blocked");
  await expectReply(hans, "unblock yoda", "Error. yoda was not blocked");
  await expectReply(hans, "block", "Error. Usage: block <user>");
  await expectReply(hans, "unblock", "Error. Usage: unblock <user>");
});

test("help lists every command, one line each", async () => {
  const { port } = await startServer();
  const hans = await loginClient(port, "hans");
  const help = await outputOf(hans, "help");
  const starts = help.map((l) => l.trim().split(/\s+/)[0]);
  for (const cmd of ["message", "broadcast", "whoelse", "whoelsesince", "block", "unblock", "logout", "help"]) {
    expect(starts.filter((s) => s === cmd)).toHaveLength(1);
  }
});

test("invalid commands and known commands with missing arguments", async () => {
  const { port } = await startServer();
  const hans = await loginClient(port, "hans");
  for (const bad of ["hello", "Message luke hi", "whoelsesince2", "messageluke hi"]) {
    await expectReply(hans, bad, "Error. Invalid command");
  }
  await expectReply(hans, "message", "Error. Usage: message <user> <text>");
  await expectReply(hans, "message luke", "Error. Usage: message <user> <text>");
  await expectReply(hans, "message luke   ", "Error. Usage: message <user> <text>");
  await expectReply(hans, "broadcast", "Error. Usage: broadcast <text>");
  await expectReply(hans, "whoelse now", "Error. Usage: whoelse");
  await expectReply(hans, "logout now", "Error. Usage: logout");
  expect(hans.proc.exitCode).toBeNull();
});

test("logout: Goodbye, exit 0, and the user can log in again", async () => {
  const { port } = await startServer();
  const hans = await loginClient(port, "hans");
  hans.send("logout");
  expect(await hans.out.waitFor(/./)).toBe("Goodbye");
  expect(await exitCode(hans.proc)).toBe(0);
  expect(await hans.out.rest()).toEqual([]); // nothing after Goodbye (no "Connection to server lost")
  const again = await loginClient(port, "hans");
  expect(again.proc.exitCode).toBeNull();
});

test("control characters in texts are stripped before display", async () => {
  const { port } = await startServer();
  const { luke, hans } = await loginAll(port, ["luke", "hans"]);

  // Typed through the real client: ANSI colour, OSC title, BEL, backspace, C1 CSI.
  hans.send("message luke \u001b[31mred\u001b[0m \u001b]0;pwned\u0007title\u0008 \u009b2Jc1");
  expect(await luke.out.waitFor(/^hans: /)).toBe("hans: red title c1");
  hans.send("broadcast \u001b[1;32mbold\u001b[0m");
  expect(await luke.out.waitFor(/^hans: /)).toBe("hans: bold");

  // A line break inside a text cannot be typed; a scripted client sends one (CR, LF, TAB, ESC c).
  const yoda = await ServerSession.connect("127.0.0.1", port, undefined, { verify: () => null });
  try {
    expect(await yoda.login("yoda", "wise")).toBe("ok");
    const r = await yoda.request({ t: "message", to: "luke", text: "over\rwrite\nfake: line\t\u001bcend" });
    expect(r.code).toBe("ok");
    expect(await luke.out.waitFor(/^yoda: /)).toBe("yoda: overwritefake: lineend");
  } finally {
    yoda.close();
  }
  // Nothing else reached the screen (no stray lines from the embedded line feed).
  expect((await luke.out.drain(300)).filter((l) => !/^yoda logged (in|out)$/.test(l))).toEqual([]);
});
