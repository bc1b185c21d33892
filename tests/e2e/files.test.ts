/**
 * behaviour.md §6 "File sharing", end to end with the real ./server and ./client: register,
 * searchFile, searchChunk, `private <user> download <name> <chunk>` and `download`,
 * on random files in temp folders. Lying and dying holders are protocol-level
 * doubles (files-fake.ts) run as their own processes.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROTOCOL_VERSION } from "../../src/protocol/messages.ts";
import { cleanup, type ClientProc, loginClient, startServer, tempDir } from "./harness.ts";
import { exitCode, expectReply, outputOf } from "./helpers.ts";
import { killFakes, startFake } from "./fake-holders.ts";
import { closeAllRaw, RawConn, rawRequest } from "./rawconn.ts";

afterEach(async () => {
  await killFakes();
  closeAllRaw();
  await cleanup();
});

/** behaviour.md §6 texts, spelled out on purpose (not imported from src): the tests pin the wording. */
const F = {
  registered: (n: string, b: number, c: number) => `File ${n} registered (${b} bytes, ${c} chunks)`,
  already: (n: string) => `File ${n} already registered; your chunks are now available`,
  conflict: (n: string) => `Error. A different file named ${n} is already registered`,
  cannotRead: (p: string) => `Error. Cannot read ${p}`,
  available: (n: string, us: string[]) => `File ${n} is available from: ${us.join(", ")}`,
  notAvailable: (n: string) => `File ${n} is not available`,
  chunkFrom: (c: number, n: string, us: string[]) => `Chunk ${c} of ${n} is available from: ${us.join(", ")}`,
  chunkNone: (c: number, n: string) => `Chunk ${c} of ${n} is not available`,
  got: (c: number, n: string, u: string) => `Downloaded chunk ${c} of ${n} from ${u}`,
  lacks: (u: string, c: number, n: string) => `Error. ${u} does not have chunk ${c} of ${n}`,
  badChunk: (c: number, n: string, u: string) => `Error. Chunk ${c} of ${n} from ${u} failed verification`,
  done: (n: string, b: number, us: string[]) => `Downloaded ${n} (${b} bytes) from ${us.join(", ")}`,
  badName: "Error. Invalid file name",
};
const MiB = 1024 * 1024;
const DOWNLOADED = /^Downloaded \S+ \(\d+ bytes\) from /;

/** A random file of `size` bytes at dir/name; returns its bytes. */
function makeFile(dir: string, name: string, size: number): Buffer {
  const data = randomBytes(size);
  writeFileSync(join(dir, name), data);
  return data;
}

/** Log users in one after another, each with its own files folder; earlier ones see the later ones log in. */
async function sharers(port: number, users: string[]): Promise<Record<string, ClientProc & { dir: string }>> {
  const out: Record<string, ClientProc & { dir: string }> = {};
  for (const u of users) {
    const dir = tempDir(`files-${u}-`);
    const c = await loginClient(port, u, ["--files", dir]);
    for (const earlier of Object.values(out)) await earlier.out.waitFor(`${u} logged in`);
    out[u] = Object.assign(c, { dir });
  }
  return out;
}


/** The lines a command printed, up to its end marker (see outputOf), with presence lines left out. */
async function run(c: ClientProc, cmd: string, ms = 15_000): Promise<string[]> {
  return (await outputOf(c, cmd, ms)).filter((l) => !/ logged (in|out)$|^Private messaging with \S+ ended$/.test(l));
}

describe("file sharing (behaviour.md §6)", () => {
  test("register, private download of chunks 1-3, searchChunk shows both holders, swarm download from more than one holder gets the exact bytes, resume", async () => {
    const s = await startServer();
    const { hans, luke, yoda, vader } = await sharers(s.port, ["hans", "luke", "yoda", "vader"]);
    const data = makeFile(hans!.dir, "big.bin", 20 * MiB);

    await expectReply(hans!, "register big.bin", F.registered("big.bin", 20 * MiB, 10));
    await expectReply(vader!, "searchFile big.bin", F.available("big.bin", ["hans"]));

    for (const c of [1, 2, 3]) await expectReply(luke!, `private hans download big.bin ${c}`, F.got(c, "big.bin", "hans"));
    expect(await run(vader!, "searchChunk big.bin 1 2 3 4 11")).toEqual([
      F.chunkFrom(1, "big.bin", ["hans", "luke"]),
      F.chunkFrom(2, "big.bin", ["hans", "luke"]),
      F.chunkFrom(3, "big.bin", ["hans", "luke"]),
      F.chunkFrom(4, "big.bin", ["hans"]),
      F.chunkNone(11, "big.bin"),
    ]);

    // yoda: every chunk, rarest first, spread over both holders; one line per chunk on a pipe.
    const lines = await run(yoda!, "download big.bin");
    expect(lines.at(-1)).toBe(F.done("big.bin", 20 * MiB, ["hans", "luke"]));
    const chunkLines = lines.filter((l) => l.startsWith("Downloaded chunk "));
    expect(chunkLines.length).toBe(10);
    expect(new Set(chunkLines.map((l) => /chunk (\d+)/.exec(l)![1])).size).toBe(10);
    expect(chunkLines.some((l) => l.endsWith(" from luke"))).toBe(true);
    expect(readFileSync(join(yoda!.dir, "big.bin")).equals(data)).toBe(true);

    // Each chunk was registered as it landed: yoda holds them all now.
    await expectReply(vader!, "searchFile big.bin", F.available("big.bin", ["hans", "luke", "yoda"]));
    await expectReply(vader!, "searchChunk big.bin 10", F.chunkFrom(10, "big.bin", ["hans", "yoda"]));

    // luke resumes: only the 7 chunks it lacks are fetched.
    const resumed = await run(luke!, "download big.bin");
    const fetched = resumed.filter((l) => l.startsWith("Downloaded chunk ")).map((l) => Number(/chunk (\d+)/.exec(l)![1]));
    expect(fetched.sort((a, b) => a - b)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    expect(resumed.at(-1)).toMatch(DOWNLOADED);
    expect(readFileSync(join(luke!.dir, "big.bin")).equals(data)).toBe(true);
    // Nothing but the file and the client's own bookkeeping folder in the files folder.
    expect(readdirSync(luke!.dir).sort()).toEqual([".termchat", "big.bin"]);
    await expectReply(luke!, "download big.bin", `You already have big.bin (${20 * MiB} bytes)`);
  }, 30_000);

  test("a lying holder is caught: private download fails verification and stores nothing; download retries elsewhere", async () => {
    const s = await startServer();
    const { hans, luke, yoda } = await sharers(s.port, ["hans", "luke", "yoda"]);
    const data = makeFile(hans!.dir, "doc.bin", 4 * MiB);
    await expectReply(hans!, "register doc.bin", F.registered("doc.bin", 4 * MiB, 10));
    await startFake(s.port, "r2d2", join(hans!.dir, "doc.bin"), "liar");
    for (const c of [hans!, luke!, yoda!]) await c.out.waitFor("r2d2 logged in");
    await expectReply(yoda!, "searchChunk doc.bin 2", F.chunkFrom(2, "doc.bin", ["hans", "r2d2"]));

    await expectReply(luke!, "private r2d2 download doc.bin 2", F.badChunk(2, "doc.bin", "r2d2"));
    // Nothing stored: luke is no holder of chunk 2 and can fetch it properly after.
    await expectReply(yoda!, "searchChunk doc.bin 2", F.chunkFrom(2, "doc.bin", ["hans", "r2d2"]));
    await expectReply(luke!, "private hans download doc.bin 2", F.got(2, "doc.bin", "hans"));

    const lines = await run(yoda!, "download doc.bin");
    expect(lines.some((l) => /^Error\. Chunk \d+ of doc\.bin from r2d2 failed verification$/.test(l))).toBe(true);
    expect(lines.filter((l) => l.startsWith("Downloaded chunk ")).every((l) => !l.endsWith("from r2d2"))).toBe(true);
    expect(lines.at(-1)).toMatch(/^Downloaded doc\.bin \(4194304 bytes\) from hans(, luke)?$/);
    expect(readFileSync(join(yoda!.dir, "doc.bin")).equals(data)).toBe(true);
  }, 30_000);

  test("a holder killed mid-download does not stop the download", async () => {
    const s = await startServer();
    const { hans, yoda } = await sharers(s.port, ["hans", "yoda"]);
    const data = makeFile(hans!.dir, "film.bin", 8 * MiB);
    await expectReply(hans!, "register film.bin 16", F.registered("film.bin", 8 * MiB, 16));
    // r2d2 holds the same file, starts sending a chunk, and is killed in the middle of it.
    const fake = await startFake(s.port, "r2d2", join(hans!.dir, "film.bin"), "stall", 16);
    await yoda!.out.waitFor("r2d2 logged in");

    yoda!.send("download film.bin");
    await fake.out.waitFor(/^serving \d+$/, 10_000);
    fake.proc.kill("SIGKILL");
    const last = await yoda!.out.waitFor(/^Downloaded film\.bin|^Error\./, 20_000);
    expect(last).toBe(F.done("film.bin", 8 * MiB, ["hans"]));
    expect(readFileSync(join(yoda!.dir, "film.bin")).equals(data)).toBe(true);
  }, 30_000);

  test("every error text of the table", async () => {
    const s = await startServer();
    const { hans, luke, yoda } = await sharers(s.port, ["hans", "luke", "yoda"]);
    makeFile(hans!.dir, "a.txt", 1000);
    makeFile(luke!.dir, "a.txt", 1000); // same name, other content
    const same = readFileSync(join(hans!.dir, "a.txt"));
    writeFileSync(join(yoda!.dir, "copy-of-a.txt"), same);

    await expectReply(hans!, "register nothing-here.txt", F.cannotRead("nothing-here.txt"));
    await expectReply(hans!, "register /no/such/dir/x.bin", F.cannotRead("/no/such/dir/x.bin"));
    await expectReply(hans!, "register a.txt 4", F.registered("a.txt", 1000, 4));
    await expectReply(luke!, "register a.txt", F.conflict("a.txt"));
    await expectReply(hans!, "register a.txt 4", F.already("a.txt"));
    // The same content from elsewhere (absolute path, other chunk count) is the same file.
    const elsewhere = join(tempDir(), "a.txt");
    writeFileSync(elsewhere, same);
    await expectReply(yoda!, `register ${elsewhere}`, F.already("a.txt"));
    expect(readFileSync(join(yoda!.dir, "a.txt")).equals(same)).toBe(true);
    await expectReply(luke!, "searchFile a.txt", F.available("a.txt", ["hans", "yoda"]));

    await expectReply(luke!, "private hans download a.txt 5", F.lacks("hans", 5, "a.txt"));
    await expectReply(luke!, "private hans download nope.txt 1", F.lacks("hans", 1, "nope.txt"));
    await expectReply(luke!, "private nobody download a.txt 1", "Error. Invalid user");
    await expectReply(luke!, "private luke download a.txt 1", "Error. Cannot start private messaging with self");
    await expectReply(luke!, "private vader download a.txt 1", "Error. vader is offline");
    await expectReply(luke!, "searchFile nope.txt", F.notAvailable("nope.txt"));
    await expectReply(luke!, "searchChunk nope.txt 1", F.chunkNone(1, "nope.txt"));
    await expectReply(luke!, "download nope.txt", F.notAvailable("nope.txt"));
    await expectReply(luke!, "register", "Error. Usage: register <path> [chunks]");
    await expectReply(luke!, "register a.txt 0", "Error. Usage: register <path> [chunks]");
    await expectReply(luke!, "searchChunk a.txt x", "Error. Usage: searchChunk <name> <c1> [c2 ...]");
    await expectReply(luke!, "download", "Error. Usage: download <name>");
    // A chunk a partial holder has not got.
    makeFile(hans!.dir, "b.bin", 1000);
    await expectReply(hans!, "register b.bin", F.registered("b.bin", 1000, 10));
    await expectReply(luke!, "private hans download b.bin 2", F.got(2, "b.bin", "hans"));
    await expectReply(yoda!, "private luke download b.bin 3", F.lacks("luke", 3, "b.bin"));
    await expectReply(yoda!, "private luke download b.bin 2", F.got(2, "b.bin", "luke"));
  }, 30_000);

  test("the default files folder is ./files/<username>; a file registered from elsewhere is copied in and served from there", async () => {
    const s = await startServer();
    const hans = await loginClient(s.port, "hans"); // no --files
    const luke = await loginClient(s.port, "luke", ["--files", tempDir("files-luke-")]);
    await hans.out.waitFor("luke logged in");
    const elsewhere = tempDir();
    const data = makeFile(elsewhere, "notes.txt", 3000);
    await expectReply(hans, `register ${join(elsewhere, "notes.txt")} 3`, F.registered("notes.txt", 3000, 3));
    const cwd = readlinkSync(`/proc/${hans.proc.pid}/cwd`);
    expect(readFileSync(join(cwd, "files", "hans", "notes.txt")).equals(data)).toBe(true);
    rmSync(join(elsewhere, "notes.txt")); // the original is not needed any more
    const lines = await run(luke, "download notes.txt");
    expect(lines.at(-1)).toBe(F.done("notes.txt", 3000, ["hans"]));
  }, 30_000);

  test("path traversal: bad names are refused by the commands, the server and the serving client", async () => {
    const s = await startServer();
    const { hans } = await sharers(s.port, ["hans"]);
    makeFile(hans!.dir, "ok.bin", 5000);
    await expectReply(hans!, "register ok.bin", F.registered("ok.bin", 5000, 10));
    writeFileSync(join(tempDir(), "secret"), "top secret");

    for (const bad of ["../ok.bin", "..", "a/b", "..\\x", ".termchat"]) {
      await expectReply(hans!, `download ${bad}`, F.badName);
      await expectReply(hans!, `searchFile ${bad}`, F.badName);
    }

    // A genuine peer (token from the server) asking for names outside the folder.
    const raw = await RawConn.login(s.port, "r2d2");
    await hans!.out.waitFor("r2d2 logged in");
    const bad = await rawRequest(raw, { t: "file_register", name: "../etc/passwd", size: 10, hashes: ["a".repeat(64)] });
    expect(bad.code).toBe("bad_args");
    const grant = await rawRequest(raw, { t: "peer_request", user: "hans" });
    expect(grant.code).toBe("peer");
    const answers = await askChunks(grant.port as number, grant.token as string, [
      ["../ok.bin", 1], ["/etc/passwd", 1], ["ok.bin\u0000", 1], [".termchat/ok.bin.json", 1], ["ok.bin", 11], ["ok.bin", 1],
    ]);
    expect(answers).toEqual(["bad_name", "bad_name", "bad_name", "bad_name", "not_held", "ok"]);
  }, 30_000);

  test("searchFile hides blockers and offline users; a holder is back after logging in again, partial chunks included", async () => {
    const s = await startServer();
    const { hans, luke, yoda, vader } = await sharers(s.port, ["hans", "luke", "yoda", "vader"]);
    makeFile(hans!.dir, "song.mp3", 1 * MiB);
    await expectReply(hans!, "register song.mp3", F.registered("song.mp3", MiB, 10));
    for (const c of [1, 2]) await expectReply(luke!, `private hans download song.mp3 ${c}`, F.got(c, "song.mp3", "hans"));
    await expectReply(yoda!, "searchFile song.mp3", F.available("song.mp3", ["hans", "luke"]));

    await expectReply(hans!, "block yoda", "yoda is blocked");
    await expectReply(yoda!, "searchFile song.mp3", F.available("song.mp3", ["luke"]));
    expect(await run(yoda!, "searchChunk song.mp3 1 3")).toEqual([F.chunkFrom(1, "song.mp3", ["luke"]), F.chunkNone(3, "song.mp3")]);
    await expectReply(vader!, "searchFile song.mp3", F.available("song.mp3", ["hans", "luke"]));

    luke!.send("logout");
    await luke!.out.waitFor("Goodbye");
    expect(await exitCode(luke!.proc)).toBe(0);
    await yoda!.out.waitFor("luke logged out");
    await vader!.out.waitFor("luke logged out");
    await expectReply(yoda!, "searchFile song.mp3", F.notAvailable("song.mp3"));
    await expectReply(vader!, "searchFile song.mp3", F.available("song.mp3", ["hans"]));

    // luke logs in again with the same folder: its two verified chunks are announced again.
    const again = await loginClient(s.port, "luke", ["--files", luke!.dir]);
    await yoda!.out.waitFor("luke logged in");
    // (It announces right after logging in, so the first search may come a moment too early.)
    expect(await poll(yoda!, "searchChunk song.mp3 2", F.chunkFrom(2, "song.mp3", ["luke"]))).toBe(true);
    // ...and its download resumes where it stopped.
    const lines = await run(again, "download song.mp3");
    expect(lines.filter((l) => l.startsWith("Downloaded chunk ")).length).toBe(8);
    expect(lines.at(-1)).toBe(F.done("song.mp3", MiB, ["hans"]));
  }, 30_000);
});

/** Run `cmd` until it prints exactly `want` (at most 20 tries, 100 ms apart). */
async function poll(c: ClientProc, cmd: string, want: string): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    if ((await run(c, cmd)).join("\n") === want) return true;
    await Bun.sleep(100);
  }
  return false;
}

/** Over a freshly authenticated peer link to a client, ask for chunks; the answer to each. */
async function askChunks(port: number, token: string, asks: [string, number][]): Promise<string[]> {
  const c = await RawConn.openPeer(port);
  try {
    c.send({ t: "peer_hello", v: PROTOCOL_VERSION, from: "r2d2", token });
    await c.waitFor("peer_welcome");
    const out: string[] = [];
    for (const [i, [name, chunk]] of asks.entries()) {
      c.send({ t: "chunk_get", req: i + 1, name, chunk });
      const m = await c.waitFor((x) => x.t === "chunk_ok" || x.t === "chunk_none");
      expect(m.req).toBe(i + 1);
      out.push(m.t === "chunk_ok" ? "ok" : String(m.reason));
    }
    return out;
  } finally {
    c.destroy();
  }
}
