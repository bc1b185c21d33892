/**
 * behaviour.md §8: every reply fits the frame limit whatever the number of users or holders;
 * a listing that would not fit goes out in parts and the real client shows it whole.
 * Many users are logged in over raw connections (bounded concurrency, bounded time);
 * the listing is read through the real client.
 */
import { afterEach, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Socket } from "bun";
import { encodeFrame, FrameDecoder, KIND_JSON } from "../../src/protocol/frame.ts";
import { MAX_CHUNKS } from "../../src/protocol/files.ts";
import { decodeServer, encodeMessage, MAX_SERVER_FRAME } from "../../src/protocol/messages.ts";
import { cleanup, CREDENTIALS, loginClient, startServer, tempDir } from "./harness.ts";
import { HELLO } from "./rawconn.ts";

const held: Socket<undefined>[] = [];
afterEach(async () => {
  for (const s of held.splice(0)) s.terminate();
  await cleanup();
});

/** A credentials file: the shipped users plus `extra` (all with password "pw"). */
async function credsFile(extra: string[]): Promise<string> {
  const path = join(tempDir("chat-creds-"), "credentials.txt");
  const shipped = await Bun.file(CREDENTIALS).text();
  writeFileSync(path, `${shipped.trimEnd()}\n${extra.map((u) => `${u} pw`).join("\n")}\n`);
  return path;
}

/** This process's soft limit on open files (Linux /proc). */
function openFilesLimit(): number {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
  return m?.[1] === "unlimited" ? Infinity : Number(m?.[1] ?? 0);
}

/** Raise the soft limit on open files to `want` (up to the hard limit) for this process and what it starts. */
function ensureFiles(want: number): void {
  if (openFilesLimit() >= want) return;
  try {
    Bun.spawnSync(["prlimit", `--pid=${process.pid}`, `--nofile=${want}:`]);
  } catch {
    // no prlimit: the check below says what to do
  }
  const have = openFilesLimit();
  if (have < want) throw new Error(`this test needs ${want} open files; the limit is ${have}: run it after \`ulimit -n ${want}\``);
}

/**
 * Log `user` in over a bare socket and keep it open, reading and discarding what
 * follows (presence notices: every login is announced to everyone online). Optional
 * `after` frames are sent once logged in.
 */
function holdLogin(port: number, user: string, after: Uint8Array[] = []): Promise<void> {
  return new Promise((resolve, reject) => {
    const dec = new FrameDecoder(MAX_SERVER_FRAME);
    let done = false;
    Bun.connect<undefined>({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(s) {
          held.push(s);
          s.write(Buffer.concat([encodeFrame(KIND_JSON, new TextEncoder().encode(JSON.stringify(HELLO))), encodeMessage({ t: "login", user, pass: "pw" })]));
        },
        data(s, chunk) {
          if (done) return; // logged in: the rest is read and dropped
          for (const f of dec.push(chunk)) {
            const m = decodeServer(f.body);
            if (typeof m === "string" || m.t === "error") return reject(new Error(`${user}: ${JSON.stringify(m)}`));
            if (m.t !== "login_result") continue;
            if (m.code !== "ok") return reject(new Error(`${user}: ${m.code}`));
            done = true;
            for (const a of after) s.write(a);
            return resolve();
          }
        },
        close() {
          if (!done) reject(new Error(`${user}: closed before login`));
        },
        error() {},
        connectError(_s, e) {
          reject(e);
        },
      },
    }).catch(reject);
  });
}

/** Log every user in, `concurrency` at a time (under the server's pre-login cap per address). */
async function holdAll(port: number, users: string[], concurrency: number, after?: (u: string) => Uint8Array[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < users.length) {
        const u = users[next++]!;
        await holdLogin(port, u, after?.(u));
      }
    }),
  );
}

test("whoelse lists 10 000 logged-in users in the real client (sent in parts: the list is ~130 KB)", async () => {
  const N = 10_000;
  ensureFiles(N + 1000);
  const names = Array.from({ length: N }, (_, i) => `user-${String(i).padStart(5, "0")}`); // 10 characters
  // Plain TCP: the test is about listings; 10 000 TLS sessions would only add handshakes.
  const srv = await startServer({ credentials: await credsFile(names), timeout: 600, extra: ["--no-tls"] });
  await holdAll(srv.port, names, 100);
  const hans = await loginClient(srv.port, "hans", ["--no-tls"]);
  hans.send("whoelse");
  const shown = new Set<string>();
  while (shown.size < N) shown.add(await hans.out.waitFor(/^user-\d{5}$/, 20_000));
  expect([...shown].sort()).toEqual(names);
  // and the session goes on: a later request gets its own reply
  hans.send("whoelsesince 600");
  const again = new Set<string>();
  while (again.size < N) again.add(await hans.out.waitFor(/^user-\d{5}$/, 20_000));
  expect(again.size).toBe(N);
  hans.send("message yoda hi");
  await hans.out.waitFor("yoda is offline. Your message will be delivered when they log in");
  await srv.log.waitFor(/hans logged in/);
}, 180_000);

test("100 users with 700-character names: whoelse, whoelsesince and searchFile list every one (UTF-8 bytes counted)", async () => {
  // 700 characters, most of them 2 bytes in UTF-8: 100 names are ~140 KB, three frames or more.
  const names = Array.from({ length: 100 }, (_, i) => `${String(i).padStart(3, "0")}-${"é".repeat(696)}`);
  const srv = await startServer({ credentials: await credsFile(names), extra: ["--no-tls"] });
  const hashes = Array.from({ length: MAX_CHUNKS }, (_, i) => (i + 1).toString(16).padStart(64, "0"));
  const register = encodeMessage({ t: "file_register", id: 1, name: "shared.bin", size: 1 << 20, hashes });
  await holdAll(srv.port, names, 20, () => [register]);
  const hans = await loginClient(srv.port, "hans", ["--no-tls"]);
  hans.send("whoelse");
  const shown = new Set<string>();
  while (shown.size < names.length) shown.add(await hans.out.waitFor(/^\d{3}-é+$/, 10_000));
  expect([...shown].sort()).toEqual(names);
  hans.send("whoelsesince 30");
  const since = new Set<string>();
  while (since.size < names.length) since.add(await hans.out.waitFor(/^\d{3}-é+$/, 10_000));
  expect(since.size).toBe(names.length);
  // Every holder of a 256-chunk file (each with a 256-character map): ~165 KB of answer.
  hans.send("searchFile shared.bin");
  const line = await hans.out.waitFor(/^File shared\.bin is available from: /, 10_000);
  const holders = line.replace("File shared.bin is available from: ", "").split(", ");
  expect(holders.sort()).toEqual(names);
}, 60_000);
