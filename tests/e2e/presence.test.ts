/**
 * behaviour.md §5: login/logout announcements, the inactivity timeout (receiving is not
 * activity; every typed command is, even those the client handles itself), losing
 * the server, and end of input.
 */
import { afterEach, expect, test } from "bun:test";
import { cleanup, loginAll, loginClient, startClient, startServer } from "./harness.ts";
import { exitCode, outputOf } from "./helpers.ts";

afterEach(cleanup);

const TIMED_OUT = "You have been logged out due to inactivity";

test("login and logout are announced to everyone else online, not to the user", async () => {
  const { port } = await startServer();
  const hans = await loginClient(port, "hans");
  const yoda = await loginClient(port, "yoda");
  expect(await hans.out.waitFor(/./)).toBe("yoda logged in");
  const luke = await loginClient(port, "luke");
  expect(await hans.out.waitFor(/./)).toBe("luke logged in");
  expect(await yoda.out.waitFor(/./)).toBe("luke logged in");

  yoda.send("logout");
  expect(await yoda.out.waitFor(/./)).toBe("Goodbye");
  expect(await exitCode(yoda.proc)).toBe(0);
  expect(await hans.out.waitFor(/./)).toBe("yoda logged out");
  expect(await luke.out.waitFor(/./)).toBe("yoda logged out");

  // A client killed outright is logged out too.
  luke.proc.kill("SIGKILL");
  expect(await hans.out.waitFor(/./)).toBe("luke logged out");

  // Nobody saw their own announcements or anything else.
  expect(await hans.out.drain(200)).toEqual([]);
  expect(luke.out.seen.filter((l) => l.startsWith("luke logged"))).toEqual([]);
  expect(yoda.out.seen.filter((l) => l.startsWith("yoda logged"))).toEqual([]);
});

test(
  "timeout: a user who only receives is logged out; one who keeps typing (even client-side commands) is not",
  async () => {
    const { port } = await startServer({ timeout: 2 });
    const yoda = await loginClient(port, "yoda");
    const hans = await loginClient(port, "hans");
    const hansIn = Date.now();
    await yoda.out.waitFor("hans logged in");

    // yoda types every 0.7 s for ~6 s. Only the first three commands (messages to hans, for
    // 1.4 s) reach the server as commands; the rest are handled by the client itself: 2.1 s
    // of help only (longer than the timeout), then 2.1 s of invalid commands and usage errors only.
    const typed = [
      "message hans ping", "message hans still there?", "message hans hello?",
      "help", "help whoelse", "help",
      "frobnicate", "message", "frobnicate",
    ];
    const typing = (async () => {
      for (const cmd of typed) {
        yoda.send(cmd);
        await Bun.sleep(700);
      }
    })();

    // hans receives messages but types nothing: timed out after ~2 s, exit 0.
    await hans.out.waitFor("yoda: ping");
    await hans.out.waitFor("yoda: still there?");
    await hans.out.waitFor("yoda: hello?");
    await hans.out.waitFor(TIMED_OUT, 5000);
    const after = Date.now() - hansIn;
    expect(after).toBeGreaterThan(1500);
    expect(after).toBeLessThan(3100); // receiving until 1.4 s did not postpone it to 3.4 s
    expect(await exitCode(hans.proc)).toBe(0);
    expect(await hans.out.rest()).toEqual([]); // and no "Connection to server lost" after it
    await yoda.out.waitFor("hans logged out");

    await typing; // ~4.9 s after yoda's last server-side command at ~1.4 s
    const shown = await yoda.out.drain(100); // the output of the local commands
    expect(shown.filter((l) => l === "Error. Invalid command")).toHaveLength(2);
    expect(shown).toContain("Error. Usage: message <user> <text>");
    expect(await outputOf(yoda, "whoelse")).toEqual(["No other users online"]);
    expect(yoda.out.seen).not.toContain(TIMED_OUT);
    expect(yoda.proc.exitCode).toBeNull();
  },
  20_000,
);

test("the server goes away: clients show 'Connection to server lost' and exit 1", async () => {
  const server = await startServer();
  const hans = await loginClient(server.port, "hans");
  const pending = startClient(server.port); // still at the login prompt
  await pending.out.waitFor("Username:");
  pending.send("yoda");
  await pending.out.waitFor("Password:");

  server.proc.kill("SIGKILL");
  expect(await hans.out.waitFor(/./)).toBe("Connection to server lost");
  expect(await exitCode(hans.proc)).toBe(1);
  expect(await pending.out.waitFor(/./)).toBe("Connection to server lost");
  expect(await exitCode(pending.proc)).toBe(1);
});

test("end of input logs out cleanly: Goodbye, exit 0, others see the logout", async () => {
  const { port } = await startServer();
  const { hans, yoda } = await loginAll(port, ["hans", "yoda"]);
  yoda.endInput();
  expect(await yoda.out.waitFor(/./)).toBe("Goodbye");
  expect(await exitCode(yoda.proc)).toBe(0);
  expect(await yoda.out.rest()).toEqual([]);
  expect(await hans.out.waitFor(/./)).toBe("yoda logged out");
  // yoda can log in again at once (the server really ended the session).
  const again = await loginClient(port, "yoda");
  expect(again.proc.exitCode).toBeNull();
});
