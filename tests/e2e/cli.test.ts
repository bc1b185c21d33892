/**
 * behaviour.md §2: command lines of ./server and ./client — bad arguments (exit 2, one
 * error line + usage), fatal conditions (exit 1, one line), --help/--version, the
 * credentials file, and that both programs run with neither bun nor node on PATH.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import {
  CLIENT_BIN, CREDENTIALS, Lines, ROOT, SERVER_BIN, WELCOME, cleanup, freePort, loginClient, runToEnd, tempDir,
  typeCredentials, typeLogin,
} from "./harness.ts";
import { exitCode, expectNoStackTrace } from "./helpers.ts";

/** Servers these tests start themselves (custom env or credentials): killed after each test. */
const extra: Subprocess[] = [];
afterEach(async () => {
  for (const p of extra.splice(0)) {
    if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    await p.exited;
  }
  await cleanup();
});

const NO_RUNTIME_ENV = { PATH: "/nonexistent" };

function lines(s: string): string[] {
  return s.split("\n").filter((l) => l !== "");
}

/** Exit 2; stderr is exactly one `error: ...` line and the usage line. */
async function expectBadArgs(bin: string, args: string[], usage: RegExp) {
  const r = await runToEnd([bin, ...args]);
  expect({ args, code: r.code }).toEqual({ args, code: 2 });
  const err = lines(r.stderr);
  expect(err).toHaveLength(2);
  expect(err[0]).toMatch(/^error: \S/);
  expect(err[1]).toMatch(usage);
  expect(r.stdout).toBe("");
  expectNoStackTrace(r.stderr);
  return err[0]!;
}

/** Exit 1 with exactly one line on stderr. */
function expectFatal(r: { code: number; stderr: string }) {
  expect(r.code).toBe(1);
  const err = lines(r.stderr);
  expect(err).toHaveLength(1);
  expectNoStackTrace(r.stderr);
  return err[0]!;
}

/** Spawn ./server directly (for env/credentials the harness does not offer), wait until it listens. */
/** --version / -v print a version, --help / -h a usage naming each of `helpNames`; all exit 0. */
async function expectVersionAndHelp(bin: string, helpNames: RegExp[]): Promise<void> {
  for (const flag of ["--version", "-v"]) {
    const r = await runToEnd([bin, flag]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\d+\.\d+\.\d+/);
  }
  for (const flag of ["--help", "-h"]) {
    const r = await runToEnd([bin, flag]);
    expect(r.code).toBe(0);
    for (const name of helpNames) expect(r.stdout).toMatch(name);
  }
}

async function spawnServer(args: string[], env: Record<string, string> = { ...process.env } as Record<string, string>) {
  const port = await freePort();
  const identity = ["--identity", join(tempDir(), "id.pem")];
  const proc = Bun.spawn([SERVER_BIN, String(port), "2", "30", "-d", "--host", "127.0.0.1", "--store", ":memory:", ...identity, ...args], {
    stdin: "ignore", stdout: "pipe", stderr: "pipe", cwd: ROOT, env,
  });
  extra.push(proc);
  const log = new Lines(proc.stderr);
  await log.waitFor(/listening on/, 10_000);
  return { port, proc, log };
}

const SERVER_USAGE = /^Usage: server <server_port> <block_duration> <timeout>/;
const CLIENT_USAGE = /^Usage: client <server_host> <server_port>/;

describe("server command line", () => {
  test("bad arguments: one error line, the usage line, exit 2, no stack trace", async () => {
    const cases: [string[], RegExp?][] = [
      [["abc", "1", "1"], /server_port/],
      [["0", "1", "1"], /server_port/],
      [["70000", "1", "1"], /server_port/],
      [["4000", "x", "1"], /block_duration/],
      [["4000", "0", "1"], /block_duration/],
      [["4000", "1", "1.5"], /timeout/],
      [["4000", "1", "0"], /timeout/],
      [[]],
      [["4000", "1"]],
      [["4000", "1", "1", "5"]],
      [["4000", "1", "1", "--bogus"], /bogus/],
      [["4000", "1", "1", "--credentials"], /credentials/],
    ];
    for (const [args, names] of cases) {
      const line = await expectBadArgs(SERVER_BIN, args, SERVER_USAGE);
      if (names) expect(line).toMatch(names);
    }
  });

  test("missing credentials file: one line, exit 1", async () => {
    const port = await freePort();
    const r = await runToEnd([SERVER_BIN, String(port), "1", "1", "--credentials", "/nonexistent/creds.txt", "--store", ":memory:"]);
    expect(expectFatal(r)).toMatch(/credentials.*\/nonexistent\/creds\.txt|\/nonexistent\/creds\.txt.*credentials/i);
  });

  test("port already in use: one line, exit 1", async () => {
    const squatter = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const r = await runToEnd([
        SERVER_BIN, String(squatter.port), "1", "1", "--host", "127.0.0.1", "--credentials", CREDENTIALS, "--store", ":memory:",
        "--no-tls",
      ]);
      expect(expectFatal(r)).toContain(String(squatter.port));
    } finally {
      squatter.stop(true);
    }
  });

  test("malformed credentials line: warning naming its line number; the server still serves the good lines", async () => {
    const dir = tempDir();
    const file = join(dir, "creds.txt");
    writeFileSync(file, "hans falcon\nthis line is wrong\n\nyoda  wise\nluke jedi\n");
    const { port, log } = await spawnServer(["--credentials", file]);
    const warnings = log.seen.filter((l) => /warn/i.test(l));
    expect(warnings.some((l) => /\bline 2\b/.test(l))).toBe(true);
    expect(warnings.some((l) => /\bline 4\b/.test(l))).toBe(true);
    expect(warnings.some((l) => /\bline 3\b/.test(l))).toBe(false); // blank lines are ignored
    expectNoStackTrace(log.seen.join("\n"));

    const c = await typeLogin(port, "yoda", "wise"); // its line was malformed: not a user
    await c.out.waitFor("Invalid Username. Please try again");
    await typeCredentials(c, "luke", "jedi"); // the last line still counts
    await c.out.waitFor(WELCOME);
  });

  test("without -d the server prints its one Listening line and nothing else in normal operation", async () => {
    const port = await freePort();
    const proc = Bun.spawn(
      [SERVER_BIN, String(port), "2", "30", "--host", "127.0.0.1", "--credentials", CREDENTIALS, "--store", ":memory:",
        "--identity", join(tempDir(), "id.pem")],
      { stdin: "ignore", stdout: "pipe", stderr: "pipe", cwd: ROOT },
    );
    extra.push(proc);
    const out = new Lines(proc.stdout);
    const err = new Lines(proc.stderr);
    await out.waitFor(new RegExp(`^Listening on 127\\.0\\.0\\.1:${port} \\(TLS, fingerprint SHA256:[A-Za-z0-9+/]{43}\\)$`), 10_000);
    const c = await loginClient(port, "hans");
    c.send("logout");
    await c.out.waitFor("Goodbye");
    expect(await exitCode(c.proc)).toBe(0);
    proc.kill("SIGTERM");
    await proc.exited;
    expect(await out.rest(2000)).toEqual([]);
    expect(await err.rest(2000)).toEqual([]);
  });

  test("--version and --help exit 0", async () => {
    await expectVersionAndHelp(SERVER_BIN, [/server_port/, /--credentials/]);
  });
});

describe("client command line", () => {
  test("bad arguments: one error line, the usage line, exit 2", async () => {
    const cases: [string[], RegExp?][] = [
      [[]],
      [["127.0.0.1"]],
      [["127.0.0.1", "abc"], /server_port/],
      [["127.0.0.1", "0"], /server_port/],
      [["127.0.0.1", "70000"], /server_port/],
      [["127.0.0.1", "4000", "extra"]],
      [["127.0.0.1", "4000", "--bogus"], /bogus/],
      [["127.0.0.1", "4000", "--files"], /files/],
    ];
    for (const [args, names] of cases) {
      const line = await expectBadArgs(CLIENT_BIN, args, CLIENT_USAGE);
      if (names) expect(line).toMatch(names);
    }
  });

  test("server unreachable: one line, exit 1", async () => {
    const port = await freePort(); // nothing listens there
    const r = await runToEnd([CLIENT_BIN, "127.0.0.1", String(port)]);
    expect(expectFatal(r)).toContain(String(port));
  });

  test("--version and --help exit 0", async () => {
    await expectVersionAndHelp(CLIENT_BIN, [/server_host/]);
  });
});

describe("standalone executables (no bun, no node on PATH)", () => {
  test("--version of both programs", async () => {
    for (const bin of [SERVER_BIN, CLIENT_BIN]) {
      const r = await runToEnd([bin, "--version"], { env: NO_RUNTIME_ENV });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/\d+\.\d+\.\d+/);
    }
  });

  test("a real login and a message, with PATH=/nonexistent for both programs", async () => {
    const { port } = await spawnServer(["--credentials", CREDENTIALS], NO_RUNTIME_ENV);
    const hans = await loginClient(port, "hans", [], NO_RUNTIME_ENV);
    const yoda = await loginClient(port, "yoda", [], NO_RUNTIME_ENV);
    await hans.out.waitFor("yoda logged in");
    yoda.send("message hans no runtime needed");
    await hans.out.waitFor("yoda: no runtime needed");
    yoda.send("logout");
    await yoda.out.waitFor("Goodbye");
    expect(await exitCode(yoda.proc)).toBe(0);
  });
});
