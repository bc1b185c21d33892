/**
 * Downloads that are safe for the downloader's disk (behaviour.md §6, §8), with the real
 * ./server and ./client: a registrant lying about the size, holders sending more
 * than a chunk, a link planted at the .part path, leftovers of interrupted steps,
 * names too long for the files the client derives from them, and a disk that fills
 * up during a download.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, type ClientProc, loginClient, startServer, tempDir } from "./harness.ts";
import { expectReply, mountTmpfs, outputOf, unmountTmpfs } from "./helpers.ts";
import { killFakes, startFake } from "./fake-holders.ts";
import { closeAllRaw, RawConn, rawRequest } from "./rawconn.ts";
import { killPtys, ptyLoginClient } from "./tty-harness.ts";

afterEach(async () => {
  await killFakes();
  closeAllRaw();
  await killPtys();
  await cleanup();
});

/** Texts spelled out on purpose (not imported from src): the tests pin the wording. */
const F = {
  registered: (n: string, b: number, c: number) => `File ${n} registered (${b} bytes, ${c} chunks)`,
  noSpace: (n: string, b: number) => `Error. Not enough disk space for ${n} (${b} bytes)`,
  notAvailable: (n: string) => `File ${n} is not available`,
  badName: "Error. Invalid file name",
  fetchFailed: (c: number, n: string, u: string) => `Error. Could not fetch chunk ${c} of ${n} from ${u}`,
  chunkDone: (c: number, n: string, u: string) => `Downloaded chunk ${c} of ${n} from ${u}`,
};
const TiB = 2 ** 40;

type Sharer = ClientProc & { dir: string };

/** Log `user` in with its own files folder (made by `prepare` first, if given), with -d. */
async function sharer(port: number, user: string, prepare?: (dir: string) => void): Promise<Sharer> {
  const dir = tempDir(`files-${user}-`);
  prepare?.(dir);
  const c = await loginClient(port, user, ["--files", dir, "-d"]);
  return Object.assign(c, { dir });
}


/** The files folder's entries, and those of its .termchat folder. */
function contents(dir: string): { top: string[]; meta: string[] } {
  return { top: readdirSync(dir).sort(), meta: readdirSync(join(dir, ".termchat")).sort() };
}

describe("downloads safe for the disk", () => {
  test("a 1 TiB registration: the size is logged, the disk-space error shown, nothing created", async () => {
    const s = await startServer();
    const luke = await sharer(s.port, "luke");
    const raw = await RawConn.login(s.port, "r2d2", { peerPort: 1 });
    await luke.out.waitFor("r2d2 logged in");
    const r = await rawRequest(raw, { t: "file_register", name: "huge.bin", size: TiB, hashes: Array.from({ length: 10 }, () => "ab".repeat(32)) });
    expect(r.code).toBe("file_new");

    await expectReply(luke, "download huge.bin", F.noSpace("huge.bin", TiB));
    await luke.err.waitFor(new RegExp(`download huge\\.bin: ${TiB} bytes in 10 chunks, ${TiB} still to fetch, \\d+ free$`));
    expect(contents(luke.dir)).toEqual({ top: [".termchat"], meta: [] });
    // Asked again: the same, and still nothing.
    await expectReply(luke, "download huge.bin", F.noSpace("huge.bin", TiB));
    expect(contents(luke.dir)).toEqual({ top: [".termchat"], meta: [] });
  }, 30_000);

  test("a download that got no verified chunk leaves nothing behind; on a TTY its size shows from the first draw", async () => {
    const s = await startServer();
    // r2d2 registers a file but nobody can reach it (its peer port is 1).
    const raw = await RawConn.login(s.port, "r2d2", { peerPort: 1 });
    const r = await rawRequest(raw, { t: "file_register", name: "far.bin", size: 5000, hashes: Array.from({ length: 10 }, () => "cd".repeat(32)) });
    expect(r.code).toBe("file_new");
    const all = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10";

    const luke = await sharer(s.port, "luke");
    const lines = (await outputOf(luke, "download far.bin", 20_000)).filter((l) => !/ logged (in|out)$/.test(l));
    expect(lines).toEqual([`Error. Download of far.bin incomplete: chunks ${all} not available`]);
    expect(contents(luke.dir)).toEqual({ top: [".termchat"], meta: [] });

    const dir = tempDir("files-yoda-");
    const yoda = await ptyLoginClient(s.port, "yoda", { args: ["--files", dir], cols: 120 });
    yoda.type("download far.bin\r");
    // Drawn before any byte came: nothing held, the whole size as the total.
    await yoda.waitForRow(/^far\.bin .*0\/10 chunks {2}0 B\/4\.9 KB/);
    await yoda.waitForRow(`Error. Download of far.bin incomplete: chunks ${all} not available`, 15_000);
    expect(contents(dir)).toEqual({ top: [".termchat"], meta: [] });
  }, 40_000);

  test("holders sending more than the chunk size are refused; the download completes from the honest holder", async () => {
    const s = await startServer();
    const hans = await sharer(s.port, "hans");
    const data = randomBytes(2 << 20);
    writeFileSync(join(hans.dir, "doc.bin"), data);
    await expectReply(hans, "register doc.bin 16", F.registered("doc.bin", 2 << 20, 16));
    const bigger = await startFake(s.port, "r2d2", join(hans.dir, "doc.bin"), "bigger", 16).then((f) => f.out);
    const overflow = await startFake(s.port, "vader", join(hans.dir, "doc.bin"), "overflow", 16).then((f) => f.out);
    const yoda = await sharer(s.port, "yoda");

    const lines = (await outputOf(yoda, "download doc.bin", 20_000)).filter((l) => !/ logged (in|out)$|ended$/.test(l));
    expect(lines.at(-1)).toBe(`Downloaded doc.bin (${2 << 20} bytes) from hans`);
    expect(lines.filter((l) => /from (r2d2|vader)$/.test(l))).toEqual([]);
    expect(readFileSync(join(yoda.dir, "doc.bin")).equals(data)).toBe(true);
    expect(contents(yoda.dir)).toEqual({ top: [".termchat", "doc.bin"], meta: ["doc.bin.json"] });
    // The liars were asked, and caught (yoda's -d log says why).
    const asked = [...(await bigger.drain(50)), ...(await overflow.drain(50))].filter((l) => l.startsWith("serving"));
    expect(asked.length).toBeGreaterThan(0);
    const caught = [...(await yoda.err.drain(50))].filter((l) => /chunk_ok of \d+ bytes, expected|unexpected data on stream/.test(l));
    expect(caught.length).toBeGreaterThan(0);
  }, 30_000);

  test("a link planted at the .part path is refused and nothing is written through it", async () => {
    const s = await startServer();
    const hans = await sharer(s.port, "hans");
    writeFileSync(join(hans.dir, "doc.bin"), randomBytes(50_000));
    await expectReply(hans, "register doc.bin", F.registered("doc.bin", 50_000, 10));
    const yoda = await sharer(s.port, "yoda");
    await expectReply(yoda, "download nothing.bin", F.notAvailable("nothing.bin")); // the folder has been read
    const victim = join(tempDir("victim-"), "precious");
    writeFileSync(victim, "untouched");
    symlinkSync(victim, join(yoda.dir, ".termchat", "doc.bin.part"));

    const [line] = await outputOf(yoda, "download doc.bin");
    expect(line).toMatch(/^Error\. Files folder .* cannot be used \(ELOOP/);
    expect(readFileSync(victim, "utf8")).toBe("untouched");
    expect(contents(yoda.dir).top).toEqual([".termchat"]);
  }, 30_000);

  test("leftovers of interrupted steps are removed when the files folder is read at start", async () => {
    const s = await startServer();
    const yoda = await sharer(s.port, "yoda", (dir) => {
      mkdirSync(join(dir, ".termchat"));
      for (const f of ["a.bin.json.tmp", "b.bin.copy", "c.bin.part"]) writeFileSync(join(dir, ".termchat", f), "left over");
      writeFileSync(join(dir, "mine.txt"), "a file of the user's");
    });
    await expectReply(yoda, "download nothing.bin", F.notAvailable("nothing.bin"));
    expect(contents(yoda.dir)).toEqual({ top: [".termchat", "mine.txt"], meta: [] });
    const removed: string[] = [];
    for (let i = 0; i < 3; i++) removed.push((await yoda.err.waitFor(/files: removing leftover /)).replace(/.*leftover /, ""));
    expect(removed.sort()).toEqual(["a.bin.json.tmp", "b.bin.copy", "c.bin.part"]);
  }, 30_000);

  test("a name of 250 bytes is refused by the client and by the server; 240 bytes is fine", async () => {
    const s = await startServer();
    const hans = await sharer(s.port, "hans");
    const long = "x".repeat(246) + ".bin";
    writeFileSync(join(hans.dir, long), "some bytes");
    await expectReply(hans, `register ${long}`, F.badName);
    await expectReply(hans, `download ${long}`, F.badName);
    await expectReply(hans, `searchFile ${long}`, F.badName);
    const raw = await RawConn.login(s.port, "r2d2", { peerPort: 1 });
    const refused = await rawRequest(raw, { t: "file_register", name: long, size: 10, hashes: ["ab".repeat(32)] });
    expect(refused.code).toBe("bad_args");
    const fine = "y".repeat(236) + ".bin";
    const ok = await rawRequest(raw, { t: "file_register", name: fine, size: 10, hashes: ["ab".repeat(32)] });
    expect(ok.code).toBe("file_new");
  }, 30_000);
});

describe("a disk that fills up during a download", () => {
  // A 16 MiB tmpfs of its own, detached after the test.
  let mnt: string | null = null;
  afterAll(() => {
    if (mnt) unmountTmpfs(mnt);
  });

  test("the chunk being written fails at once with the fetch error, the client goes on, and with room again the chunk comes whole", async () => {
    const dir = (mnt = mountTmpfs("16m"));
    const s = await startServer();
    const hans = await sharer(s.port, "hans");
    const data = randomBytes(6 << 20);
    writeFileSync(join(hans.dir, "big.bin"), data);
    await expectReply(hans, "register big.bin 1", F.registered("big.bin", 6 << 20, 1));
    // r2d2 holds it too and sends it slowly: a piece, then one every 300 ms.
    const fake = await startFake(s.port, "r2d2", join(hans.dir, "big.bin"), "slow", 1);
    const yoda = await loginClient(s.port, "yoda", ["--files", dir, "-d"]);

    yoda.send("private r2d2 download big.bin 1");
    await fake.out.waitFor(/^serving 1$/, 10_000);
    // The disk fills up (from outside the client) while the chunk comes in.
    const filler = join(dir, "filler");
    spawnSync("dd", ["if=/dev/zero", `of=${filler}`, "bs=64k"]);
    expect(statSync(filler).size).toBeGreaterThan(4 << 20);
    expect(await yoda.out.waitFor(/^Error\.|^Downloaded/, 10_000)).toBe(F.fetchFailed(1, "big.bin", "r2d2"));
    // At the first piece that could not be written, not once all 6 had come: cancelled.
    expect(await fake.out.waitFor(/^(cancelled|sent) 1$/, 10_000)).toBe("cancelled 1");
    await yoda.err.waitFor(/No space left|ENOSPC/i, 5_000);

    // The client goes on, and once there is room the chunk comes whole from hans.
    rmSync(filler);
    await expectReply(yoda, "private hans download big.bin 1", F.chunkDone(1, "big.bin", "hans"));
    const whole = join(dir, "big.bin"); // the only chunk: assembled at once
    for (let k = 0; k < 50 && !existsSync(whole); k++) await Bun.sleep(20);
    expect(readFileSync(whole).equals(data)).toBe(true);
    expect(yoda.proc.exitCode).toBeNull();
  }, 30_000);
});
