/**
 * behaviour.md §8: what one user can make the server hold is capped in bytes, so no user
 * can exhaust memory or evict others' state (docs/limits.md). Raw frames, against
 * the real server; each cap reached by one user, then another user served.
 */
import { afterEach, expect, test } from "bun:test";
import { MAX_CHUNKS } from "../../src/protocol/files.ts";
import type { ServerMsg } from "../../src/protocol/messages.ts";
import { DEFAULT_REGISTRY_LIMITS, COST, fileCost } from "../../src/server/files.ts";
import { grantCost, MAX_TOKEN_BYTES_PER_CALLER } from "../../src/server/peertokens.ts";
import { cleanup, PASSWORDS, startServer } from "./harness.ts";
import { closeAllRaw, RawConn } from "./rawconn.ts";

afterEach(async () => {
  closeAllRaw();
  await cleanup();
});

const reply = (c: RawConn<ServerMsg>, id: number) => c.waitFor((m) => m.t === "reply" && m.id === id, 10_000) as Promise<Extract<ServerMsg, { t: "reply" }>>;

test("file registry: one user is stopped at their byte cap (registry_full, logged); another user still registers", async () => {
  const srv = await startServer();
  const hans = await RawConn.login(srv.port, "hans");
  const per = fileCost("f-000", MAX_CHUNKS) + COST.holder + MAX_CHUNKS * COST.chunk;
  const fits = Math.floor(DEFAULT_REGISTRY_LIMITS.maxBytesPerUser / per);
  const hashes = (f: number) => Array.from({ length: MAX_CHUNKS }, (_, i) => (f * 1000 + i + 1).toString(16).padStart(64, "0"));
  for (let f = 0; f <= fits; f++) {
    hans.send({ t: "file_register", id: f + 1, name: `f-${String(f).padStart(3, "0")}`, size: 1 << 30, hashes: hashes(f) });
  }
  const codes: string[] = [];
  for (let f = 0; f <= fits; f++) codes.push((await reply(hans, f + 1)).code);
  expect(codes.filter((c) => c === "file_new")).toHaveLength(fits);
  expect(codes[fits]).toBe("registry_full");
  await srv.log.waitFor(new RegExp(`hans: file_register "f-${fits}" refused: registry full \\(user at \\d+ of ${DEFAULT_REGISTRY_LIMITS.maxBytesPerUser} bytes`));
  const luke = await RawConn.login(srv.port, "luke");
  luke.send({ t: "file_register", id: 1, name: "notes.txt", size: 100, hashes: hashes(999).slice(0, 10) });
  expect(await reply(luke, 1)).toMatchObject({ code: "file_new" });
});

test("peer tokens: one caller's flood of peer_request evicts only its own oldest tokens; another caller's token still works", async () => {
  const srv = await startServer();
  const yoda = await RawConn.hello(srv.port);
  yoda.send({ t: "login", user: "yoda", pass: PASSWORDS.yoda!, peerPort: 40000 });
  await yoda.waitFor((m) => m.t === "login_result");
  const luke = await RawConn.login(srv.port, "luke");
  const hans = await RawConn.login(srv.port, "hans");
  luke.send({ t: "peer_request", id: 1, user: "yoda" });
  const lukes = (await reply(luke, 1)).token!;
  const N = 2000;
  for (let i = 1; i <= N; i++) hans.send({ t: "peer_request", id: i, user: "yoda" });
  const first = (await reply(hans, 1)).token!;
  let last = "";
  for (let i = 2; i <= N; i++) last = (await reply(hans, i)).token!;
  await srv.log.waitFor(/hans: over the peer-token budget, 1 of their oldest tokens dropped/);
  expect(N).toBeGreaterThan(MAX_TOKEN_BYTES_PER_CALLER / grantCost("yoda"));
  // yoda (the callee) checks the tokens presented to it
  const check = async (id: number, user: string, token: string) => {
    yoda.send({ t: "peer_check", id, user, token });
    return (await reply(yoda, id)).code;
  };
  expect(await check(1, "luke", lukes)).toBe("token_ok");
  expect(await check(2, "hans", first)).toBe("token_bad");
  expect(await check(3, "hans", last)).toBe("token_ok");
});
