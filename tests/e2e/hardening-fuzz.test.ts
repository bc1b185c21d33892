/**
 * Fuzzing the server's front door (fast-check): thousands of random, mutated and
 * valid-but-hostile frames over hundreds of connections, some logged in, some
 * not, closed in every way; then thousands of valid random commands on one
 * session, each of which must be answered; compact frames (protocol v3) among them. Afterwards the server is alive, never
 * logged an internal error, its RSS is bounded, and two real clients chat.
 */
import { afterEach, expect, test } from "bun:test";
import fc from "fast-check";
import { encodeCompactClient } from "../../src/protocol/compact.ts";
import { encodeFrame } from "../../src/protocol/frame.ts";
import type { ClientMsg, ServerMsg } from "../../src/protocol/messages.ts";
import { cleanup, loginClient, PASSWORDS, startServer } from "./harness.ts";
import { closeAllRaw, compactFrame, header, HELLO, jsonFrame, RawConn, rssBytes } from "./rawconn.ts";

afterEach(async () => {
  closeAllRaw();
  await cleanup();
});

const RSS_BOUND = 300 * 1024 * 1024;

// Fuzz sessions log in only as vader and r2d2 (sometimes with the right password);
// luke is the phase-2 user; hans and yoda are kept clean for the final check.
const anyName = fc.constantFrom("hans", "yoda", "luke", "vader", "r2d2", "nobody", "", "\u001b[2J", "a".repeat(300));
const loginName = fc.constantFrom("vader", "r2d2", "nobody", "", "VADER");
const password = fc.constantFrom(PASSWORDS.vader!, PASSWORDS.r2d2!, "wrong", "");
const text = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: "binary", maxLength: 80 }) },
  { weight: 1, arbitrary: fc.integer({ min: 4090, max: 4100 }).map((n) => "é".repeat(n >> 1) + "x".repeat(n & 1)) },
);
const id = fc.oneof(fc.nat(), fc.constant(0), fc.constant(Number.MAX_SAFE_INTEGER));

/** Valid commands (well-formed, with hostile values). */
const command = fc.oneof(
  fc.record({ t: fc.constant("message"), id, to: anyName, text }),
  fc.record({ t: fc.constant("broadcast"), id, text }),
  fc.record({ t: fc.constant("whoelse"), id }),
  fc.record({ t: fc.constant("whoelsesince"), id, seconds: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)) }),
  fc.record({ t: fc.constant("block"), id, user: anyName }),
  fc.record({ t: fc.constant("unblock"), id, user: anyName }),
  fc.record({ t: fc.constant("peer_request"), id, user: anyName }),
  fc.record({ t: fc.constant("peer_check"), id, user: anyName, token: fc.string({ maxLength: 40 }) }),
  fc.record({ t: fc.constant("activity") }),
);
const anyMessage = fc.oneof(
  { weight: 6, arbitrary: command },
  { weight: 1, arbitrary: fc.constant(HELLO as Record<string, unknown>) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("hello"), v: fc.nat(3), app: fc.string() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("login"), user: loginName, pass: password }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("logout"), id }) },
);
/** One field replaced by any JSON value, removed, or added. */
const mutatedJson = fc
  .tuple(anyMessage, fc.nat(), fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 2 })), fc.boolean())
  .map(([m, k, v, add]) => {
    const o: Record<string, unknown> = { ...m };
    const keys = Object.keys(o);
    const key = add ? `t${k % 2 ? "" : "x"}` : keys[k % keys.length]!;
    if (v === undefined) delete o[key];
    else o[key] = v;
    return jsonFrame(o);
  });
/** A valid frame with its bytes damaged. */
const damaged = fc.tuple(anyMessage.map(jsonFrame), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(5)).map(([f, at, byte, how]) => {
  const c = f.slice();
  switch (how) {
    case 0: // one byte changed anywhere (header included)
      c[at % c.byteLength] = byte;
      return c;
    case 1: // truncated
      return c.subarray(0, at % c.byteLength);
    case 2: // length header off by a little
      new DataView(c.buffer).setUint32(0, Math.max(0, c.byteLength - 4 + (at % 9) - 4));
      return c;
    case 3: // kind byte changed
      c[4] = byte;
      return c;
    case 4: // bytes inserted in the middle
      return new Uint8Array(Buffer.concat([c.subarray(0, at % c.byteLength), crypto.getRandomValues(new Uint8Array(1 + (at % 7))), c.subarray(at % c.byteLength)]));
    default: // the frame twice
      return new Uint8Array(Buffer.concat([c, c]));
  }
});
/** A command in its compact form where it has one (version 3, HELLO's), else JSON. */
const asCompact = (m: Record<string, unknown>) => encodeCompactClient(m as ClientMsg) ?? jsonFrame(m);
/** Compact frames: valid commands, and bodies of random bytes after a plausible op. */
const compactItem = fc.oneof(
  command.map(asCompact),
  fc.tuple(fc.integer({ min: 0, max: 3 }), fc.uint8Array({ maxLength: 64 })).map(([op, b]) => compactFrame([op, ...b])),
);
const frameItem = fc.oneof(
  { weight: 2, arbitrary: compactItem },
  { weight: 5, arbitrary: anyMessage.map(jsonFrame) },
  { weight: 3, arbitrary: mutatedJson },
  { weight: 3, arbitrary: damaged },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }).map((n) => header(n)) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 64 })).map(([k, b]) => encodeFrame(k, b)) },
);
const script = fc.record({
  prefix: fc.constantFrom("none", "hello", "login"),
  who: fc.constantFrom("vader", "r2d2"),
  frames: fc.array(frameItem, { minLength: 1, maxLength: 25 }),
  pieces: fc.integer({ min: 1, max: 3 }),
  close: fc.constantFrom("end", "destroy", "wait"),
});

type Script = typeof script extends fc.Arbitrary<infer T> ? T : never;
const MARKER = 999_999_999;

/** Run one connection's script; returns the number of frames sent. */
async function runScript(port: number, s: Script): Promise<number> {
  const c = await RawConn.open(port);
  const start: Uint8Array[] = [];
  if (s.prefix !== "none") start.push(jsonFrame(HELLO));
  if (s.prefix === "login") start.push(jsonFrame({ t: "login", user: s.who, pass: PASSWORDS[s.who]! }));
  const all = new Uint8Array(Buffer.concat([...start, ...s.frames]));
  const step = Math.ceil(all.byteLength / s.pieces);
  for (let i = 0; i < all.byteLength; i += step) {
    c.sendBytes(all.subarray(i, i + step));
    if (s.pieces > 1) await Bun.sleep(1);
  }
  if (s.close === "wait") await c.closedWithin(20);
  if (s.close === "end") c.end();
  else c.destroy();
  return start.length + s.frames.length;
}

test("random and mutated frames at the front door, then a storm of valid commands: the server stays up, bounded, and serves", async () => {
  const srv = await startServer({ block: 1, timeout: 60 });
  let frames = 0;
  let connections = 0;
  let runs = 0;

  // Phase 1: hostile connections, up to 4 at once.
  await fc.assert(
    fc.asyncProperty(fc.array(script, { minLength: 1, maxLength: 4 }), async (scripts) => {
      const sent = await Promise.all(scripts.map((s) => runScript(srv.port, s)));
      frames += sent.reduce((a, b) => a + b, 0);
      connections += scripts.length;
      expect(srv.proc.exitCode).toBeNull();
      if (++runs % 50 === 0) (await RawConn.hello(srv.port)).destroy(); // still answering
    }),
    { numRuns: 600 },
  );

  // Phase 2: one session, thousands of valid random commands, every one answered.
  const luke = await RawConn.login(srv.port, "luke");
  const commands = fc.sample(command, { numRuns: 4000, seed: 7 });
  let expected = 0;
  commands.forEach((m, i) => {
    if (m.t === "activity") return luke.send(m);
    // Every other request compact (the session said hello v3), when it has a compact form.
    if (i % 2 === 0) luke.sendBytes(asCompact({ ...m, id: i }));
    else luke.send({ ...m, id: i });
    expected++;
  });
  luke.send({ t: "whoelse", id: MARKER }); // a last request, to know all were answered
  await luke.waitFor((m) => m.t === "reply" && m.id === MARKER, 20_000);
  const replies = luke.received.filter((m): m is Extract<ServerMsg, { t: "reply" }> => m.t === "reply");
  expect(replies).toHaveLength(expected + 1);
  expect(luke.closed).toBe(false);
  frames += commands.length + 1;

  // Afterwards: alive, no internal error ever logged, memory bounded, real clients chat.
  const rss = await rssBytes(srv.proc.pid);
  expect(srv.proc.exitCode).toBeNull();
  expect(frames).toBeGreaterThan(5000);
  expect(rss).toBeLessThan(RSS_BOUND);
  const hans = await loginClient(srv.port, "hans");
  const yoda = await loginClient(srv.port, "yoda");
  hans.send("message yoda the door held");
  await yoda.out.waitFor("hans: the door held");
  await srv.log.drain(100);
  if (process.env.FUZZ_STATS) {
    const kinds = new Map<string, number>();
    for (const l of srv.log.seen) {
      const k = l.replace(/^\S+ server: (session \d+: )?/, "").replace(/\d+/g, "N").slice(0, 50);
      kinds.set(k, (kinds.get(k) ?? 0) + 1);
    }
    console.log([...kinds].sort((a, b) => b[1] - a[1]).slice(0, 40).map(([k, n]) => `${n}\t${k}`).join("\n"));
  }
  expect(srv.log.seen.filter((l) => /internal error/i.test(l))).toEqual([]);
  expect(srv.log.seen.some((l) => /bad frame/.test(l))).toBe(true);
  console.log(`front-door fuzz: ${frames} frames over ${connections + 1} connections; server RSS ${(rss / 1048576).toFixed(1)} MiB`);
}, 60_000);
