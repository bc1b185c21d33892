/**
 * Steps the peer-to-peer end-to-end tests (p2p*.test.ts) share.
 */
import { expect } from "bun:test";
import type { ClientProc, Lines } from "./harness.ts";

/** behaviour.md §6 texts, spelled out here on purpose (not imported from src): the tests pin the wording. */
export const P = {
  started: (u: string) => `Start private messaging with ${u}`,
  chat: (from: string, text: string) => `${from}(private): ${text}`,
  notEnabled: (u: string) => `Error. Private messaging to ${u} not enabled`,
  gone: (u: string) => `Error. ${u} is no longer online`,
  stopped: (u: string) => `Stopped private messaging with ${u}`,
  peerStopped: (a: string) => `${a} stopped private messaging with you`,
  noSession: (u: string) => `Error. No active private messaging session with ${u}`,
  ended: (a: string) => `Private messaging with ${a} ended`,
  active: (u: string) => `Error. Private messaging with ${u} is already active`,
  offline: (u: string) => `Error. ${u} is offline`,
  blockedYou: (u: string) => `Error. ${u} has blocked you`,
  self: "Error. Cannot start private messaging with self",
  invalidUser: "Error. Invalid user",
  loggedOut: (u: string) => `${u} logged out`,
  timedOut: "You have been logged out due to inactivity",
};

/** The peer port a client started with `-d` logged on stderr. */
export async function peerPortOf(c: ClientProc): Promise<number> {
  const line = await c.err.waitFor(/peer listener on port \d+/);
  return Number(/port (\d+)/.exec(line)![1]);
}

/** Wait until every line of `want` has been shown, in any order (other lines in between are consumed). */
export async function waitAll(lines: Lines, want: string[], ms = 5000): Promise<void> {
  const missing = new Set(want);
  const deadline = Date.now() + ms;
  while (missing.size > 0) {
    const alternatives = [...missing].map((l) => l.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
    const got = await lines.waitFor(new RegExp(`^(?:${alternatives})$`), Math.max(1, deadline - Date.now()));
    missing.delete(got);
  }
}

/** Nothing is shown within `ms` (for checks that an event did NOT happen). */
export async function expectQuiet(c: ClientProc, ms = 300): Promise<void> {
  expect(await c.out.drain(ms)).toEqual([]);
}

/** Every line a client has shown so far (consumed or not yet), for negative checks. */
export async function allShown(c: ClientProc, settleMs = 200): Promise<string[]> {
  await c.out.drain(settleMs);
  return [...c.out.seen];
}
