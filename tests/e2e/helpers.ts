/**
 * Small steps the end-to-end tests share, on top of harness.ts.
 */
import { expect } from "bun:test";
import type { Subprocess } from "bun";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ClientProc } from "./harness.ts";

export const INVALID_COMMAND = "Error. Invalid command";

/** Exit code of `proc`, or "still running" if it has not exited within `ms`. */
export async function exitCode(proc: Subprocess<any, any, any>, ms = 5000): Promise<number | "still running"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"still running">((r) => (timer = setTimeout(() => r("still running"), ms)));
  const code = await Promise.race([proc.exited, late]);
  clearTimeout(timer);
  return code;
}

/** End markers: a command typed after the one under test, and the one line it prints. */
const MARKERS = [
  { cmd: "zzz-end-marker", line: INVALID_COMMAND },
  { cmd: "unblock", line: "Error. Usage: unblock <user>" },
];

/**
 * Type `cmd`, then a command with a known one-line answer as an end marker, and
 * return every line the client printed in between (commands are run in order, so
 * this is the whole output of `cmd`, plus any event that arrived meanwhile).
 */
export async function outputOf(c: ClientProc, cmd: string, ms = 5000, avoid?: string): Promise<string[]> {
  const m = MARKERS.find((x) => x.line !== avoid)!;
  const mark = c.out.seen.length;
  c.send(cmd);
  c.send(m.cmd);
  await c.out.waitFor(m.line, ms);
  return c.out.seen.slice(mark, -1);
}

/** Type a command and check it prints exactly the one line `want`. */
export async function expectReply(c: ClientProc, cmd: string, want: string, ms = 5000): Promise<void> {
  const got = await outputOf(c, cmd, ms, want);
  expect({ cmd, got }).toEqual({ cmd, got: [want] });
}

/** Lines that do not look like a stack trace frame or an uncaught error dump. */
export function expectNoStackTrace(text: string): void {
  expect(text).not.toMatch(/^\s+at\s/m);
  expect(text).not.toMatch(/\bTypeError\b|\bReferenceError\b|Unhandled|uncaught/i);
}

/**
 * A small tmpfs of its own (`size` as mount takes it: "1m"), for a disk that fills up.
 * Mounting needs root, as the test machine is: a failure fails the test.
 */
export function mountTmpfs(size: string): string {
  const dir = mkdtempSync(join(tmpdir(), "chat-tmpfs-"));
  const m = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  expect(m.status).toBe(0);
  return dir;
}

/** Detach a tmpfs of mountTmpfs (lazily: a server or client may still hold it open) and remove its folder. */
export function unmountTmpfs(dir: string): void {
  spawnSync("umount", ["-l", dir]);
  rmSync(dir, { recursive: true, force: true });
}
