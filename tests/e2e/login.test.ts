/**
 * behaviour.md §3: every row of the login table, the per-username lockout (across
 * connections), its duration, and the reset on success.
 */
import { afterEach, expect, test } from "bun:test";
import { WELCOME, cleanup, loginClient, startServer, typeLogin } from "./harness.ts";
import { exitCode } from "./helpers.ts";

afterEach(cleanup);

const INVALID_USERNAME = "Invalid Username. Please try again";
const INVALID_PASSWORD = "Invalid Password. Please try again";
const LOCKED_NOW = "Invalid Password. Your account has been blocked. Please try again later";
const BLOCKED = "Your account is blocked due to multiple login failures. Please try again later";

test("correct login shows the welcome line and enters the command loop", async () => {
  const { port } = await startServer();
  const c = await typeLogin(port, "hans");
  await c.out.waitFor(WELCOME);
  c.send("whoelse");
  await c.out.waitFor("No other users online");
  expect(c.proc.exitCode).toBeNull();
});

test("unknown username: invalid username, then asks for the username again", async () => {
  const { port } = await startServer();
  const c = await typeLogin(port, "nobody", "whatever");
  await c.out.waitFor(INVALID_USERNAME);
  expect(await c.out.waitFor(/./)).toBe("Username:");
  c.send("Hans"); // usernames are case-sensitive
  await c.out.waitFor("Password:");
  c.send("falcon");
  await c.out.waitFor(INVALID_USERNAME);
  expect(await c.out.waitFor(/./)).toBe("Username:");
  c.send("hans");
  await c.out.waitFor("Password:");
  c.send("falcon");
  await c.out.waitFor(WELCOME);
  expect(c.proc.exitCode).toBeNull();
});

test("wrong password twice asks for the password again; the third time blocks and exits 1", async () => {
  const { port } = await startServer({ block: 2 });
  const c = await typeLogin(port, "hans", "wrong1");
  await c.out.waitFor(INVALID_PASSWORD);
  expect(await c.out.waitFor(/./)).toBe("Password:");
  c.send("Falcon"); // passwords are case-sensitive
  await c.out.waitFor(INVALID_PASSWORD);
  expect(await c.out.waitFor(/./)).toBe("Password:");
  c.send("wrong3");
  expect(await c.out.waitFor(/./)).toBe(LOCKED_NOW);
  expect(await exitCode(c.proc)).toBe(1);
});

test("a blocked account is refused even with the right password, and admitted after block_duration", async () => {
  const { port } = await startServer({ block: 2 });
  const c = await typeLogin(port, "luke", "x");
  await c.out.waitFor(INVALID_PASSWORD);
  c.send("y");
  await c.out.waitFor(INVALID_PASSWORD);
  c.send("z");
  await c.out.waitFor(LOCKED_NOW);
  const lockedAt = Date.now();
  expect(await exitCode(c.proc)).toBe(1);

  // Right password, during the block.
  const d = await typeLogin(port, "luke");
  expect(await d.out.waitFor(/./)).toBe(BLOCKED);
  expect(await exitCode(d.proc)).toBe(1);
  expect(Date.now() - lockedAt).toBeLessThan(2000); // the refusal really happened inside the block

  // Other accounts are not affected.
  const other = await loginClient(port, "yoda");
  expect(other.proc.exitCode).toBeNull();

  // After block_duration (2 s) the right password works again.
  await Bun.sleep(Math.max(0, 2000 - (Date.now() - lockedAt)) + 300);
  const e = await typeLogin(port, "luke");
  await e.out.waitFor(WELCOME);
  expect(e.proc.exitCode).toBeNull();
});

test("the failure count belongs to the username: 2 failures on one connection + 1 on another block it", async () => {
  const { port } = await startServer({ block: 3 });
  const a = await typeLogin(port, "vader", "bad");
  await a.out.waitFor(INVALID_PASSWORD);
  await a.out.waitFor("Password:");
  a.send("bad");
  await a.out.waitFor(INVALID_PASSWORD);
  await a.out.waitFor("Password:");

  const b = await typeLogin(port, "vader", "bad");
  expect(await b.out.waitFor(/./)).toBe(LOCKED_NOW);
  expect(await exitCode(b.proc)).toBe(1);

  // The first connection, still at its password prompt, is now refused even with the right password.
  a.send("darkside");
  expect(await a.out.waitFor(/./)).toBe(BLOCKED);
  expect(await exitCode(a.proc)).toBe(1);
});

test("a successful login resets the failure count", async () => {
  const { port } = await startServer({ block: 3 });
  const a = await typeLogin(port, "r2d2", "bad");
  await a.out.waitFor(INVALID_PASSWORD);
  a.send("bad");
  await a.out.waitFor(INVALID_PASSWORD);
  a.send("beepboop");
  await a.out.waitFor(WELCOME);
  a.send("logout");
  await a.out.waitFor("Goodbye");
  expect(await exitCode(a.proc)).toBe(0);

  const b = await typeLogin(port, "r2d2", "bad");
  expect(await b.out.waitFor(/./)).toBe(INVALID_PASSWORD); // 1st failure again, not the 3rd
  await b.out.waitFor("Password:");
  b.send("bad");
  expect(await b.out.waitFor(/./)).toBe(INVALID_PASSWORD);
  await b.out.waitFor("Password:");
  b.send("beepboop");
  await b.out.waitFor(WELCOME);
});

test("user already logged in elsewhere: error, exit 1; the first session is undisturbed", async () => {
  const { port } = await startServer();
  const first = await loginClient(port, "hans");
  const second = await typeLogin(port, "hans");
  expect(await second.out.waitFor(/./)).toBe("Error. hans is already logged in");
  expect(await exitCode(second.proc)).toBe(1);
  // Right password while online does not count as a failure, and the first session still works.
  const yoda = await loginClient(port, "yoda");
  yoda.send("message hans still here?");
  await first.out.waitFor("yoda: still here?");
  expect(first.proc.exitCode).toBeNull();
  expect(await first.out.drain(200)).toEqual([]);
});
