/**
 * The client on a real terminal (docs/terminal.md): output never garbles the line
 * being typed, Tab completion, no password on screen, colours (and none with
 * NO_COLOR / --no-color / on a pipe), Ctrl-D and Ctrl-C, the terminal restored.
 * Each client runs in a pseudo-terminal; the screen is rendered by @xterm/headless.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { CLIENT_BIN, type ClientProc, SERVER_BIN, WELCOME, cleanup, loginClient, runToEnd, startServer } from "./harness.ts";
import { closeAllRaw, RawConn } from "./rawconn.ts";
import { Pty, SGR, expectNoSgr, killPtys, ptyClient, ptyLogin, ptyLoginClient, ttyEnv } from "./tty-harness.ts";

// Longer than any single wait (5 s), so a failure shows the screen instead of a bare timeout.
setDefaultTimeout(15_000);

afterEach(async () => {
  closeAllRaw();
  await killPtys();
  await cleanup();
});

/** The client run from a shell that records the terminal modes (stty -g) before and after it. */
function clientInShell(port: number): Pty {
  const script = 'echo "modes=$(stty -g)"; "$0" 127.0.0.1 "$1"; echo "rc=$?"; echo "modes=$(stty -g)"';
  return new Pty(["sh", "-c", script, CLIENT_BIN, String(port)], { cols: 200 });
}

async function shellReport(c: Pty): Promise<{ rc: number; before: string; after: string }> {
  await c.until(() => [...c.raw.matchAll(/modes=(\S+)/g)].length === 2, "the shell's report");
  const [before, after] = [...c.raw.matchAll(/modes=(\S+)/g)].map((m) => m[1]!);
  return { rc: Number(/rc=(\d+)/.exec(c.raw)?.[1]), before: before!, after: after! };
}

/** hans in a terminal and yoda on a pipe, both logged in, hans having seen yoda arrive. */
async function hansOnTtyYodaOnPipe(port: number, opts: Parameters<typeof ptyLoginClient>[2] = {}): Promise<{ hans: Pty; yoda: ClientProc }> {
  const hans = await ptyLoginClient(port, "hans", opts);
  const yoda = await loginClient(port, "yoda");
  await hans.waitForRow("yoda logged in");
  return { hans, yoda };
}

describe("typing while messages arrive", () => {
  test("a message lands above the half-typed line; the line, the cursor and its edits survive", async () => {
    const { port } = await startServer();
    const { hans, yoda } = await hansOnTtyYodaOnPipe(port);

    hans.type("message yoda hello wor");
    await hans.waitForBottom("> message yoda hello wor");
    hans.type("\x1b[D\x1b[D"); // cursor two to the left, under the "o" of "wor"
    await hans.until(() => hans.cursor().x === "> message yoda hello wor".length - 2, "cursor moved left");

    yoda.send("message hans the force is strong");
    const row = await hans.waitForRow("yoda: the force is strong");
    const lines = await hans.waitForBottom("> message yoda hello wor");
    expect(row).toBe(lines.length - 2); // right above the prompt, on a line of its own
    expect(hans.cursor()).toEqual({ x: "> message yoda hello wor".length - 2, y: lines.length - 1 });

    yoda.send("broadcast and another");
    await hans.waitForRow("yoda: and another");
    await hans.waitForBottom("> message yoda hello wor");

    // Editing goes on where it was: readline's line is intact, not just the picture of it.
    hans.type("\x05"); // Ctrl-E: end of line
    hans.type("ld");
    hans.type("\r");
    await yoda.out.waitFor("hans: hello world");
    await hans.waitForBottom(">");
  });

  test("a burst of messages (shown together) lands above the half-typed line, every one, in order", async () => {
    const { port } = await startServer();
    const hans = await ptyLoginClient(port, "hans", { rows: 40 });
    const yoda = await RawConn.login(port, "yoda");
    await hans.waitForRow("yoda logged in");
    hans.type("message yoda half");
    await hans.waitForBottom("> message yoda half");

    const burst = Array.from({ length: 25 }, (_, i) => `burst ${i + 1}`);
    for (const [i, text] of burst.entries()) yoda.sendCompact({ t: "message", id: i + 1, to: "hans", text });
    await hans.waitForRow("yoda: burst 25");
    const shown = await hans.waitForBottom("> message yoda half");
    // Right above the prompt, one line each, in the order sent; nothing in between.
    expect(shown.slice(-26, -1)).toEqual(burst.map((t) => `yoda: ${t}`));
    expect(shown.filter((l) => l.startsWith("> ")).length).toBe(1);
    expect(hans.cursor()).toEqual({ x: "> message yoda half".length, y: shown.length - 1 });
  });

  test("a line that wraps over several rows is restored whole", async () => {
    const { port } = await startServer();
    const { hans, yoda } = await hansOnTtyYodaOnPipe(port, { cols: 60 });
    const typed = "message yoda " + "abcdefghij".repeat(6); // 2 rows at 60 columns
    hans.type(typed);
    const full = "> " + typed;
    const wrapped = [full.slice(0, 60), full.slice(60)];
    await hans.until((ls) => expect(ls.slice(-2)).toEqual(wrapped), "wrapped line");
    yoda.send("message hans ping");
    await hans.waitForRow("yoda: ping");
    const lines = await hans.until((ls) => expect(ls.slice(-3)).toEqual(["yoda: ping", ...wrapped]), "line restored");
    expect(lines.filter((l) => l.startsWith("> message"))).toHaveLength(1); // no stale copy left above
  });
});

describe("typing ahead", () => {
  test("typed while a command waits for the server: kept, and completion still works on it", async () => {
    const server = await startServer();
    const { hans, yoda } = await hansOnTtyYodaOnPipe(server.port);
    server.proc.kill("SIGSTOP"); // the server answers nothing until SIGCONT
    try {
      hans.type("whoelse\r");
      await hans.waitForBottom(">");
      hans.type("message yo\t");
      await hans.waitForBottom("> message yoda");
    } finally {
      server.proc.kill("SIGCONT");
    }
    await hans.until((ls) => expect(ls.slice(-3)).toEqual(["> whoelse", "yoda", "> message yoda"]), "answer above the typed-ahead line");
    hans.type("ahead\r");
    await yoda.out.waitFor("hans: ahead");
    hans.type("wh\t");
    await hans.waitForBottom("> whoelse");
    hans.type("\t");
    await hans.waitForRow(/^whoelse\s+whoelsesince$/);
  });
});

describe("completion and history", () => {
  test("Tab completes command names and known user names; Up recalls a line", async () => {
    const { port } = await startServer();
    const { hans, yoda } = await hansOnTtyYodaOnPipe(port); // hans learns "yoda" from the presence notice

    hans.type("mess\t");
    await hans.waitForBottom("> message");
    hans.type("yo\t");
    await hans.waitForBottom("> message yoda");
    hans.type("completed\r");
    await yoda.out.waitFor("hans: completed");

    // Two commands start with "who": the common part, then both listed on a second Tab.
    hans.type("wh\t");
    await hans.waitForBottom("> whoelse");
    hans.type("\t");
    await hans.waitForRow(/^whoelse\s+whoelsesince$/);
    hans.type("\x15"); // Ctrl-U: clear the line

    // private completes only users with an open session.
    hans.type("private y\t");
    await hans.waitForBottom("> private y");
    hans.type("\x15startprivate yo\t");
    await hans.waitForBottom("> startprivate yoda");
    hans.type("\r");
    await hans.waitForRow("Start private messaging with yoda");
    hans.type("private y\t");
    await hans.waitForBottom("> private yoda");
    hans.type("psst\r");
    await yoda.out.waitFor("hans(private): psst");

    hans.type("\x1b[A"); // Up: the last line comes back
    await hans.waitForBottom("> private yoda psst");
  });
});

describe("help", () => {
  test("help lists the commands and the keys; help <command> explains one", async () => {
    const { port } = await startServer();
    const c = await ptyLoginClient(port, "hans", { cols: 120, rows: 40 });
    c.type("help\r");
    await c.waitForRow("Commands:");
    const lines = await c.waitForRow(/^Ctrl-D on an empty line logs out\.$/).then(() => c.lines());
    for (const usage of ["message <user> <text>", "whoelsesince <time>", "startprivate <user>", "logout"]) {
      expect(lines.some((l) => l.trimStart().startsWith(usage))).toBe(true);
    }
    expect(lines.some((l) => l.includes("Tab completes commands and user names"))).toBe(true);
    c.type("help mess\t");
    await c.waitForBottom("> help message");
    c.type("\r");
    await c.waitForRow("message <user> <text>");
    await c.waitForRow(/^ {2}send <text> to <user>/);
  });
});

describe("login on a terminal", () => {
  test("the password is never on the screen, nor in the output, nor in history", async () => {
    const { port } = await startServer();
    const c = ptyClient(port);
    await c.waitForBottom("Username:");
    c.type("hans\r");
    await c.waitForBottom("Password:");
    c.type("wrongpass\r");
    await c.waitForRow("Invalid Password. Please try again");
    await c.waitForBottom("Password:");
    c.type("falcon\r");
    await c.waitForRow(WELCOME);
    const lines = await c.waitForBottom(">");
    expect(lines).toContain("Username: hans"); // the username is echoed
    for (const secret of ["falcon", "wrongpass"]) {
      expect(lines.join("\n")).not.toContain(secret);
      expect(c.raw).not.toContain(secret);
    }
    c.type("\x1b[A"); // Up at the first prompt: nothing to recall
    c.type("x");
    await c.waitForBottom("> x");
  });

  test("Ctrl-C at the login prompt quits at once and gives the terminal back as it was", async () => {
    const { port } = await startServer();
    const c = clientInShell(port);
    await c.waitForBottom("Username:");
    c.type("ha\x03");
    const { rc, before, after } = await shellReport(c);
    expect(rc).toBe(130);
    expect(after).toBe(before);
  });
});

describe("colours", () => {
  test("on a terminal: sender names, private messages, errors and notices in colour", async () => {
    const { port } = await startServer();
    const { hans, yoda } = await hansOnTtyYodaOnPipe(port);
    yoda.send("message hans coloured");
    const chat = await hans.waitForRow("yoda: coloured");
    hans.type("startprivate yoda\r");
    await hans.waitForRow("Start private messaging with yoda");
    yoda.send("private hans whispered");
    const priv = await hans.waitForRow("yoda(private): whispered");
    hans.type("nonsense\r");
    const err = await hans.waitForRow("Error. Invalid command");
    const buf = hans.screen.buffer.active;
    const cell = (row: number, col: number) => buf.getLine(buf.viewportY + row)!.getCell(col)!;
    const colourOf = (row: number, col: number) => (cell(row, col).isFgDefault() ? "default" : cell(row, col).getFgColor());
    expect(colourOf(chat, 0)).not.toBe("default"); // "yoda" in colour
    expect(colourOf(chat, "yoda: ".length)).toBe("default"); // the text itself plain
    expect(colourOf(err, 0)).not.toBe("default");
    expect(colourOf(err, 0)).not.toBe(colourOf(chat, 0)); // errors look unlike names
    expect(colourOf(priv, 0)).not.toBe("default");
    expect(colourOf(priv, 0)).not.toBe(colourOf(chat, 0)); // private unlike public
    expect(colourOf(priv, "yoda(private): ".length)).not.toBe("default"); // the whole private line
    const presence = (await hans.lines()).indexOf("yoda logged in");
    expect(colourOf(presence, 0)).not.toBe("default");
    expect(colourOf(presence, 0)).not.toBe(colourOf(err, 0));
    expect(hans.raw).toMatch(SGR);
  });

  test("NO_COLOR=1 and --no-color: not one colour code on a terminal", async () => {
    const { port } = await startServer();
    const yoda = await loginClient(port, "yoda");
    for (const [env, args] of [[{ NO_COLOR: "1" }, []], [{}, ["--no-color"]]] as const) {
      const hans = await ptyLoginClient(port, "hans", { env: ttyEnv(env), args: [...args] });
      yoda.send("message hans plain please");
      await hans.waitForRow("yoda: plain please");
      hans.type("nonsense\r");
      await hans.waitForRow("Error. Invalid command");
      hans.type("logout\r");
      await hans.waitForRow("Goodbye");
      expect(await hans.exitCode()).toBe(0);
      expectNoSgr(hans.raw);
      await yoda.out.waitFor("hans logged out");
    }
  });

  test("on a pipe, even without NO_COLOR: no escape codes at all", async () => {
    const { port } = await startServer();
    const yoda = await loginClient(port, "yoda");
    const hans = await loginClient(port, "hans", [], { NO_COLOR: "", TERM: "xterm-256color" }); // empty NO_COLOR counts as unset
    yoda.send("message hans over a pipe");
    await hans.out.waitFor("yoda: over a pipe");
    hans.send("nonsense");
    await hans.out.waitFor("Error. Invalid command");
    hans.send("logout");
    await hans.out.waitFor("Goodbye");
    expect(hans.out.seen.join("\n")).not.toContain("\x1b");
  });
});

describe("leaving", () => {
  test("Ctrl-D on an empty line logs out with Goodbye; the terminal is as it was", async () => {
    const { port } = await startServer();
    const yoda = await loginClient(port, "yoda");
    const c = clientInShell(port);
    await ptyLogin(c, "hans");
    c.type("half");
    await c.waitForBottom("> half");
    c.type("\x04"); // not on a typed line: nothing happens
    c.type("\x15"); // clear it
    await c.waitForBottom(">");
    c.type("\x04");
    await c.waitForRow("Goodbye");
    await yoda.out.waitFor("hans logged out");
    const { rc, before, after } = await shellReport(c);
    expect(rc).toBe(0);
    expect(after).toBe(before);
    const lines = await c.lines();
    expect(lines[lines.indexOf("Goodbye") - 1]).toBe("Welcome to the greatest messaging application ever!"); // no prompt left behind
  });

  test("server gone: the message, exit 1, and the terminal still as it was", async () => {
    const server = await startServer();
    const c = clientInShell(server.port);
    await ptyLogin(c, "hans");
    c.type("half a line");
    await c.waitForBottom("> half a line");
    server.proc.kill("SIGKILL");
    await c.waitForRow("Connection to server lost");
    const { rc, before, after } = await shellReport(c);
    expect(rc).toBe(1);
    expect(after).toBe(before);
    // The prompt was taken off the screen: the shell's next line starts clean.
    const lines = await c.lines();
    expect(lines).toContain("rc=1");
    expect(lines.filter((l) => l.includes("half a line"))).toEqual([]);
  });

  test("the terminal closed (hangup): logged out, the half-typed line not sent, no hang", async () => {
    const { port } = await startServer();
    const yoda = await loginClient(port, "yoda");
    const c = await ptyLoginClient(port, "hans");
    c.type("message yoda must not be sent");
    await c.waitForBottom("> message yoda must not be sent");
    c.proc.terminal!.close();
    await yoda.out.waitFor("hans logged out");
    expect(await c.exitCode()).toBe(0);
    expect(yoda.out.seen).not.toContain("hans: must not be sent");
  });

  test("Ctrl-C clears a typed line; on an empty line it asks once, and a second Ctrl-C logs out", async () => {
    const { port } = await startServer();
    const yoda = await loginClient(port, "yoda");
    const c = await ptyLoginClient(port, "hans");
    c.type("message yoda never sent");
    await c.waitForBottom("> message yoda never sent");
    c.type("\x03");
    await c.waitForBottom(">");
    c.type("\x03");
    await c.waitForRow("(To log out, press Ctrl-C again or Ctrl-D, or type logout)");
    c.type("x\x15"); // typing something in between disarms it: ask again
    c.type("\x03");
    await c.until((ls) => ls.filter((l) => l.startsWith("(To log out")).length === 2, "asked again");
    expect(await c.exitCode(300)).toBe("still running");
    c.type("\x03");
    await c.waitForRow("Goodbye");
    expect(await c.exitCode()).toBe(0);
    await yoda.out.waitFor("hans logged out");
    expect(yoda.out.seen).not.toContain("hans: never sent");
  });
});

describe("--help and --version", () => {
  test("both programs list arguments, options and examples", async () => {
    const client = await runToEnd([CLIENT_BIN, "--help"]);
    expect(client.code).toBe(0);
    for (const want of ["Usage:", "Arguments:", "server_host", "server_port", "Options:", "--files <dir>", "--no-color", "--version", "Examples:", "$ client 127.0.0.1 4000"]) {
      expect(client.stdout).toContain(want);
    }
    expect(client.stdout).not.toContain("(default: true)");
    const server = await runToEnd([SERVER_BIN, "-h"]);
    expect(server.code).toBe(0);
    for (const want of ["Arguments:", "server_port", "block_duration", "timeout", "--credentials <file>", "--store <file>", "Examples:", "$ server 4000 60 120"]) {
      expect(server.stdout).toContain(want);
    }
    for (const bin of [CLIENT_BIN, SERVER_BIN]) {
      const v = await runToEnd([bin, "--version"]);
      expect(v.code).toBe(0);
      expect(v.stdout).toMatch(/^(client|server) \d+\.\d+\.\d+\n$/);
    }
  });
});
