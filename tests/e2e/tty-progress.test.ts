/**
 * The progress line API the download command uses (Terminal.progress/clearProgress,
 * formatProgress): on a terminal the status line sits right above the prompt,
 * output goes above both, the half-typed line survives, and clearing removes it.
 * Driven through a small fixture (fixtures/progress-demo.ts) in a pseudo-terminal.
 */
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { join } from "node:path";
import { formatProgress } from "../../src/client/progress.ts";
import { Pty, killPtys } from "./tty-harness.ts";

const FIXTURE = join(import.meta.dir, "fixtures", "progress-demo.ts");
let listener: TCPSocketListener<undefined> | null = null;

// Longer than any single wait (5 s), so a failure shows the screen instead of a bare timeout.
setDefaultTimeout(15_000);

afterEach(async () => {
  await killPtys();
  listener?.stop(true);
  listener = null;
});

/** Start the fixture in a terminal; returns it and a function sending it a command. */
async function startDemo(cols = 80) {
  let conn: Socket<undefined> | null = null;
  let connected: () => void = () => {};
  const ready = new Promise<void>((r) => (connected = r));
  listener = Bun.listen<undefined>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        conn = s;
        connected();
      },
      data() {},
    },
  });
  const pty = new Pty([process.execPath, FIXTURE, String(listener.port)], { cols });
  await Promise.race([ready, Bun.sleep(10_000).then(() => Promise.reject(new Error("fixture never connected")))]);
  const send = (cmd: string) => conn!.write(cmd + "\n");
  return { pty, send };
}

const bar = (done: number) =>
  formatProgress({ name: "movie.mkv", chunksDone: done, chunksTotal: 10, bytesDone: done * 1000, bytesTotal: 10_000, bytesPerSecond: 2048, peers: 2 }, 80);

test("the progress line sits above the prompt; messages go above it; the typed line survives", async () => {
  const { pty, send } = await startDemo();
  await pty.waitForBottom(">");
  pty.type("half typed");
  await pty.waitForBottom("> half typed");

  send(`progress ${bar(3)}`);
  await pty.until((ls) => expect(ls.slice(-2)).toEqual([bar(3), "> half typed"]), "progress above the prompt");
  expect(bar(3)).toMatch(/^movie\.mkv \[█+░+\] 3\/10 chunks {2}2\.9 KB\/9\.8 KB {2}2\.0 KB\/s {2}2 peers$/);

  send("print yoda: hello");
  await pty.until((ls) => expect(ls.slice(-3)).toEqual(["yoda: hello", bar(3), "> half typed"]), "message above the progress line");

  send(`progress ${bar(7)}`);
  await pty.until((ls) => expect(ls.slice(-3)).toEqual(["yoda: hello", bar(7), "> half typed"]), "progress replaced in place");
  expect((await pty.lines()).filter((l) => l.startsWith("movie.mkv"))).toHaveLength(1);

  // Enter while the progress line is up: the entered line moves above it.
  pty.type("\r");
  await pty.until(
    (ls) => expect(ls.slice(-4)).toEqual(["> half typed", "got: half typed", bar(7), ">"]),
    "entered line above the progress line",
  );

  send("clear");
  await pty.until((ls) => expect(ls.slice(-3)).toEqual(["> half typed", "got: half typed", ">"]), "progress line gone");
  expect(await pty.lines()).not.toContain(bar(7));
});

test("a progress text wider than the terminal is cut, never wrapped", async () => {
  const { pty, send } = await startDemo(40);
  await pty.waitForBottom(">");
  send(`progress ${"x".repeat(100)}`);
  const lines = await pty.until((ls) => ls.length >= 2 && ls[ls.length - 2]!.startsWith("xxx"), "cut progress line");
  expect(lines[lines.length - 2]).toBe("x".repeat(38) + "…");
  expect(lines[lines.length - 1]).toBe(">");
});
