/**
 * The client's files folder (behaviour.md §6): what it holds, on disk and in memory.
 *
 * Layout (docs/file-sharing.md):
 *   <files>/<name>                   a complete file (registered or downloaded and checked)
 *   <files>/.termchat/<name>.json    its manifest: size, chunk hashes, chunks held, complete?
 *   <files>/.termchat/<name>.part    a download in progress, full size (sparse); pieces are
 *                                    written at their offsets, a chunk counts as held only
 *                                    once its SHA-256 matched and the manifest says so
 *
 * Every path is built from a name that passed badFileName() (no separators, no `..`,
 * no NUL, no leading dot), so nothing outside the folder is ever read or written.
 * Reads and writes go through file handles at offsets, in pieces: memory does not
 * grow with the file size.
 */
import { copyFile, lstat, mkdir, open, readFile, realpath, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { constants as fsc, statfsSync } from "node:fs";
import { silentLogger, type Logger } from "../../common/logger.ts";
import { badFileName, chunkRange } from "../../protocol/files.ts";
import { ignored } from "../ignored.ts";
import { hashChunks, hashRange, READ_PIECE } from "./file-hash.ts";
import { removeLeftovers } from "./leftovers.ts";
import { allChunks, LocalNameTaken, sameList, type LocalFile } from "./local-file.ts";
import { parseManifest, toManifest, type Manifest } from "./manifest.ts";
import { bytesStillNeeded, freeBytes } from "./space.ts";

/** The hidden folder inside the files folder that holds manifests and partial downloads. */
export const META_DIR = ".termchat";


export { allChunks, LocalNameTaken, sameList, type LocalFile };

export class FileStore {
  readonly files = new Map<string, LocalFile>();
  readonly meta: string;
  private saving = new Map<string, Promise<void>>();

  constructor(
    readonly dir: string,
    private readonly log: Logger = silentLogger,
  ) {
    this.meta = join(dir, META_DIR);
  }

  /** Create the folder if needed and read what it holds. Throws if the folder is unusable. */
  async init(log: (s: string) => void = () => {}): Promise<void> {
    await mkdir(this.meta, { recursive: true });
    const entries = await removeLeftovers(this.meta, log);
    for (const entry of entries) {
      if (!entry.endsWith(".json")) continue;
      const name = entry.slice(0, -".json".length);
      // An unreadable manifest is dropped below, like a stale one.
      const f = await this.readManifest(name).catch(ignored(this.log, `files: reading manifest ${entry}`, null));
      if (!f) {
        log(`files: dropping stale or unreadable manifest ${entry}`);
        await this.forget(name);
        continue;
      }
      this.files.set(name, f);
    }
  }

  get(name: string): LocalFile | undefined {
    return this.files.get(name);
  }

  holds(name: string, c: number): boolean {
    return this.files.get(name)?.have.has(c) ?? false;
  }

  /** Where a file's bytes are: the complete file, or its .part while downloading. */
  dataPath(f: LocalFile): string {
    return f.complete ? join(this.dir, f.name) : this.partPath(f.name);
  }

  partPath(name: string): string {
    return join(this.meta, `${name}.part`);
  }

  /** Path of `name` in the folder (the name must be valid). */
  pathOf(name: string): string {
    return join(this.dir, name);
  }

  span(f: LocalFile, c: number): { start: number; end: number } {
    return chunkRange(f.size, f.hashes.length, c);
  }

  // ---- registering ----

  /** SHA-256 of every chunk of the file at `path` (size bytes, n chunks), read in pieces. */
  hashFile(path: string, size: number, n: number): Promise<string[]> {
    return hashChunks(path, size, n);
  }

  /** Is `path` the very file <files>/<name>? */
  async isInPlace(path: string, name: string): Promise<boolean> {
    try {
      return (await realpath(path)) === (await realpath(this.pathOf(name)));
    } catch {
      return false;
    }
  }

  /**
   * Record <files>/<name> as a complete shared file, copying `source` there first
   * unless it is that file already (or a checked copy of it is). Any partial download
   * of the name is dropped.
   */
  async adoptComplete(name: string, source: string | null, size: number, hashes: string[]): Promise<LocalFile> {
    const dest = this.pathOf(name);
    if (source !== null) {
      const tmp = join(this.meta, `${name}.copy`);
      // A reflink where the file system can, else a plain copy; then one rename, so a
      // half-copied file is never visible under its name.
      await copyFile(source, tmp, fsc.COPYFILE_FICLONE);
      await rename(tmp, dest);
    }
    await rm(this.partPath(name), { force: true });
    const st = await stat(dest);
    const f: LocalFile = { name, size, hashes, have: allChunks(hashes.length), complete: true, mtimeMs: st.mtimeMs, checked: new Set() };
    this.files.set(name, f);
    await this.save(f);
    return f;
  }

  // ---- downloading ----

  /**
   * The local state of a file about to be downloaded with this registry shape: the
   * existing one if it matches, else a fresh partial (a stale partial of another
   * content is dropped). Throws LocalNameTaken if <files>/<name> is some other file.
   */
  async startPartial(name: string, size: number, hashes: string[]): Promise<LocalFile> {
    const known = this.files.get(name);
    if (known && known.size === size && sameList(known.hashes, hashes)) return known;
    if (known?.complete) throw new LocalNameTaken(name);
    if (known) await this.forget(name);
    if (await exists(this.pathOf(name))) throw new LocalNameTaken(name);
    // Never through a link planted at the .part path (ELOOP: refused, nothing written).
    const fh = await open(this.partPath(name), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW);
    try {
      await fh.truncate(size);
    } finally {
      await fh.close();
    }
    const f: LocalFile = { name, size, hashes: [...hashes], have: new Set(), complete: false, checked: new Set() };
    this.files.set(name, f);
    await this.save(f);
    return f;
  }

  /**
   * Chunk c of f passed verification: it is held from now on (and served). `onDisk`:
   * the verifying hash was of the bytes as this process wrote them to the .part file.
   */
  async markHeld(f: LocalFile, c: number, onDisk: boolean): Promise<void> {
    f.have.add(c);
    if (onDisk) f.checked.add(c);
    await this.save(f);
  }

  /**
   * Every chunk is held: check the whole content from disk, then move the .part to
   * <files>/<name>. Chunks this process already hashed from the bytes it wrote as they
   * landed are not read again; every other chunk (from an earlier session, or hashed
   * on the main thread without a worker) is read back and hashed now. Returns the chunks that failed (no longer
   * held), or [] when the file is complete.
   */
  async finish(f: LocalFile): Promise<number[]> {
    if (f.complete) return [];
    const bad = await this.check(f, [...f.have].filter((c) => !f.checked.has(c)));
    if (bad.length > 0) {
      for (const c of bad) f.have.delete(c);
      await this.save(f);
      return bad;
    }
    const dest = this.pathOf(f.name);
    if (await exists(dest)) throw new LocalNameTaken(f.name);
    // The manifest says "complete" before the rename (which keeps the mtime): a kill
    // between the two leaves a manifest and a .part that init() finishes (readManifest).
    const part = await stat(this.partPath(f.name));
    await this.save({ ...f, complete: true, mtimeMs: part.mtimeMs });
    await rename(this.partPath(f.name), dest);
    f.complete = true;
    f.mtimeMs = part.mtimeMs;
    return [];
  }

  /** Bytes free in the files folder's file system for this process. */
  freeBytes(): number {
    return freeBytes(statfsSync(this.dir));
  }

  /** Bytes a download of this shape would still put on disk (what a matching partial holds counts). */
  stillNeeded(name: string, size: number, hashes: string[]): number {
    const known = this.files.get(name);
    const have = known && known.size === size && sameList(known.hashes, hashes) ? known.have : [];
    return bytesStillNeeded(size, hashes.length, have);
  }

  /** Re-read these chunks of f (default: all) from disk; those whose hash does not match. */
  async check(f: LocalFile, chunks: number[] = [...allChunks(f.hashes.length)]): Promise<number[]> {
    const fh = await open(this.dataPath(f), "r");
    try {
      const buf = Buffer.allocUnsafe(READ_PIECE);
      const bad: number[] = [];
      for (const c of chunks.sort((a, b) => a - b)) {
        const { start, end } = this.span(f, c);
        if ((await hashRange(fh, buf, start, end)) === f.hashes[c - 1]) f.checked.add(c);
        else bad.push(c);
      }
      const st = await fh.stat();
      if (st.size !== f.size) throw new Error(`${f.name}: ${st.size} bytes on disk, ${f.size} expected`);
      return bad;
    } finally {
      await fh.close();
    }
  }

  /** Drop what we know of `name` (manifest and partial data; a complete file stays on disk). */
  async forget(name: string): Promise<void> {
    this.files.delete(name);
    // A save still running for a file we drop: its failure no longer matters.
    await this.saving.get(name)?.catch(ignored(this.log, `files: saving manifest of dropped ${name}`, undefined));
    await rm(join(this.meta, `${name}.json`), { force: true });
    await rm(this.partPath(name), { force: true });
  }

  // ---- manifests ----

  /** Write f's manifest (writes of one file are serialised; each is a write + rename). */
  save(f: LocalFile): Promise<void> {
    const prev = this.saving.get(f.name) ?? Promise.resolve();
    const next = prev
      .catch(() => {}) // that save's own caller got its error; this one starts afresh
      .then(async () => {
        const path = join(this.meta, `${f.name}.json`);
        // Not through a link planted at the .tmp path either.
        const fh = await open(`${path}.tmp`, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW);
        try {
          await fh.writeFile(JSON.stringify(toManifest(f)));
        } finally {
          await fh.close();
        }
        await rename(`${path}.tmp`, path);
      });
    this.saving.set(f.name, next);
    void next.finally(() => {
      if (this.saving.get(f.name) === next) this.saving.delete(f.name);
    }).catch(() => {}); // the caller gets the error from `next` itself
    return next;
  }

  private async readManifest(name: string): Promise<LocalFile | null> {
    if (badFileName(name)) return null;
    const m = parseManifest(name, await readFile(join(this.meta, `${name}.json`), "utf8"));
    if (!m) return null;
    const n = m.hashes.length;
    const f: LocalFile = { name, size: m.size, hashes: m.hashes, have: new Set(m.have), complete: !!m.complete, checked: new Set() };
    if (f.complete) {
      await this.finishRename(name, m);
      const st = await stat(this.pathOf(name)).catch(ignored(this.log, `files: ${name}`, null));
      // Changed since it was recorded: its chunks no longer match the registry.
      if (!st || !st.isFile() || st.size !== m.size || st.mtimeMs !== m.mtimeMs) return null;
      f.have = allChunks(n);
      f.mtimeMs = m.mtimeMs;
    } else {
      // Nothing verified yet: nothing to resume from (docs/file-sharing.md).
      if (f.have.size === 0) return null;
      const st = await lstat(this.partPath(name)).catch(ignored(this.log, `files: ${name}.part`, null));
      if (!st || !st.isFile() || st.size !== m.size) return null;
    }
    return f;
  }

  /** A complete manifest whose .part was not renamed yet (killed in finish()): rename it now. */
  private async finishRename(name: string, m: Manifest): Promise<void> {
    const part = await lstat(this.partPath(name)).catch(() => null);
    if (!part?.isFile() || part.size !== m.size || part.mtimeMs !== m.mtimeMs || (await exists(this.pathOf(name)))) return;
    await rename(this.partPath(name), this.pathOf(name));
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
