/**
 * `register <path> [chunks]` (behaviour.md §6): hash the file, copy it into the files folder
 * (unless it or an identical copy is there), and register it with the server.
 */
import { stat } from "node:fs/promises";
import { basename, isAbsolute, join, resolve } from "node:path";
import { badFileName, chunkCount, DEFAULT_CHUNKS } from "../../protocol/files.ts";
import { ignored } from "../ignored.ts";
import { T } from "../texts.ts";
import { say, type FilesCtx } from "./context.ts";
import { sameList } from "./store.ts";

export async function register(ctx: FilesCtx, pathArg: string, wanted?: number): Promise<void> {
  const { store, log, out } = ctx;
  if (!(await ctx.usable())) return;
  const source = await findSource(ctx, pathArg);
  if (!source) return say(out, T.cannotRead(pathArg));
  const name = basename(source.path);
  if (badFileName(name)) return say(out, T.invalidFileName);
  const size = source.size;
  let hashes: string[];
  try {
    hashes = await store.hashFile(source.path, size, chunkCount(size, wanted ?? DEFAULT_CHUNKS));
  } catch (e) {
    log.debug(`register ${source.path}: ${(e as Error).message}`);
    return say(out, T.cannotRead(pathArg));
  }
  const copyFrom = await placement(ctx, source.path, name, size, hashes);
  if (copyFrom === false) return say(out, T.localNameTaken(name));
  const { r, hashes: final } = await registerAs(ctx, source.path, name, size, hashes);
  switch (r.code) {
    case "file_new":
    case "file_same":
      try {
        await store.adoptComplete(name, copyFrom, size, final);
      } catch (e) {
        log.debug(`register ${name}: cannot place it in the files folder: ${(e as Error).message}`);
        return say(out, T.cannotRead(pathArg));
      }
      return say(out, r.code === "file_new" ? T.fileRegistered(name, size, final.length) : T.fileAlreadyRegistered(name));
    case "file_conflict":
      return say(out, T.fileConflict(name));
    case "registry_full":
      return say(out, T.registryFull);
    case "bad_args":
      return say(out, T.unexpectedAnswer(r.code));
    case "unexpected":
      return say(out, T.unexpectedAnswer(r.got));
  }
}

/**
 * Where the files folder's copy comes from: `path` (copy it in), null (it is in place,
 * or an identical copy is), or false (another file of that name is there).
 */
async function placement(ctx: FilesCtx, path: string, name: string, size: number, hashes: string[]): Promise<string | null | false> {
  const { store, log } = ctx;
  if (await store.isInPlace(path, name)) return null;
  // Usually there is no such file (ENOENT): the copy goes in.
  const dest = await stat(store.pathOf(name)).catch(ignored(log, `register: ${name} in the files folder`, null));
  if (!dest) return path;
  if (!dest.isFile() || dest.size !== size) return false;
  const there = await store.hashFile(store.pathOf(name), size, hashes.length).catch(ignored(log, `register: hashing the files folder's ${name}`, []));
  return sameList(there, hashes) ? null : false;
}

/**
 * Register with the server. On a conflict with a file of the same name and size cut
 * into another number of chunks, the same content cut the registered way may match:
 * then that is registered instead. Returns the reply and the hashes it was for.
 */
async function registerAs(ctx: FilesCtx, path: string, name: string, size: number, hashes: string[]) {
  const r = await ctx.registry.register(name, size, hashes);
  if (r.code !== "file_conflict" || r.size !== size || r.hashes.length === hashes.length) return { r, hashes };
  const other = await ctx.store.hashFile(path, size, r.hashes.length).catch(ignored(ctx.log, `register: hashing ${name} in ${r.hashes.length} chunks`, []));
  if (!sameList(other, r.hashes)) return { r, hashes };
  return { r: await ctx.registry.register(name, size, other), hashes: other };
}

/** A relative path is looked up in the files folder first, then the working directory. */
async function findSource({ store, log }: FilesCtx, p: string): Promise<{ path: string; size: number } | null> {
  if (p.includes("\u0000")) return null;
  const candidates = isAbsolute(p) ? [p] : [join(store.dir, p), resolve(p)];
  for (const path of candidates) {
    // Not there (or unreadable): try the next place; if none is good the user is told.
    const st = await stat(path).catch(ignored(log, `register: ${path}`, null));
    if (st?.isFile()) return { path, size: st.size };
  }
  return null;
}
