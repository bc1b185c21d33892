/**
 * `download <name>` (every missing chunk from every usable holder, swarm.ts) and
 * `private <user> download <name> <chunk>` (one chunk from one user).
 */
import { stripControls } from "../../common/sanitize.ts";
import { badFileName } from "../../protocol/files.ts";
import { ignored } from "../ignored.ts";
import { formatProgress, RateMeter } from "../progress.ts";
import { T } from "../texts.ts";
import { say, shown, storeFailure, type FilesCtx } from "./context.ts";
import type { FetchOutcome } from "./fetch.ts";
import type { FileInfo } from "./registry.ts";
import type { LocalFile } from "./store.ts";
import { bytesStillNeeded, fits } from "./space.ts";
import { othersOf, swarm, type SwarmDeps } from "./swarm.ts";

/** `download <name>`. */
export async function download(ctx: FilesCtx, name: string): Promise<void> {
  const { out } = ctx;
  if (badFileName(name)) return say(out, T.invalidFileName);
  if (!(await ctx.usable())) return;
  const info = await ctx.registry.search(name);
  if (!info) return say(out, T.fileNotAvailable(name));
  const f = await begin(ctx, name, info);
  if (typeof f === "string") return say(out, f);
  if (f.complete) return say(out, T.alreadyHaveFile(name, f.size));
  const others = [...othersOf(info, ctx.me).values()];
  const usable = f.hashes.some((_, i) => !f.have.has(i + 1) && others.some((s) => s.has(i + 1)));
  if (!usable && f.have.size < f.hashes.length) {
    await dropIfNothingHeld(ctx, f);
    return say(out, T.fileNotAvailable(name));
  }

  const bar = out.showsProgress === true && typeof out.progress === "function";
  const r = await fetchAll(ctx, f, info, bar);
  if (bar) out.clearProgress?.();
  if (typeof r === "string" || r.missing.length > 0 || !f.complete) await dropIfNothingHeld(ctx, f);
  if (typeof r === "string") return say(out, r);
  if (r.missing.length > 0 || !f.complete) return say(out, T.downloadIncomplete(name, r.missing));
  if (r.from.size === 0) return say(out, T.alreadyHaveFile(name, f.size));
  say(out, T.fileDownloaded(name, f.size, shown([...r.from])));
}

/**
 * The local state for downloading `name` as the registry describes it, once the
 * size is logged and found to fit in the files folder's free space (else nothing
 * is created); or the error text to show.
 */
async function begin(ctx: FilesCtx, name: string, info: FileInfo): Promise<LocalFile | string> {
  const { store } = ctx;
  try {
    const need = store.stillNeeded(name, info.size, info.hashes);
    const free = store.freeBytes();
    ctx.log.debug(`download ${name}: ${info.size} bytes in ${info.hashes.length} chunks, ${need} still to fetch, ${free} free`);
    if (!fits(need, free)) return T.notEnoughSpace(name, need);
    return await store.startPartial(name, info.size, info.hashes);
  } catch (e) {
    return storeFailure(store, name, e);
  }
}

/**
 * A download that failed or stopped holding no verified chunk cannot resume (there
 * is nothing to resume from): its .part and manifest go. One holding a chunk or
 * more stays, and the next `download` fetches only what is missing.
 */
async function dropIfNothingHeld(ctx: FilesCtx, f: LocalFile): Promise<void> {
  if (f.complete || f.have.size > 0 || ctx.store.get(f.name) !== f) return;
  await ctx.store.forget(f.name).catch(ignored(ctx.log, `download ${f.name}: dropping the partial`, undefined));
}

/**
 * Swarm, then assemble and check the whole file; a second round only if that check
 * threw chunks out. Returns who sent chunks and what is still missing, or an error text.
 */
async function fetchAll(ctx: FilesCtx, f: LocalFile, info: FileInfo, bar: boolean): Promise<{ from: Set<string>; missing: number[] } | string> {
  const from = new Set<string>();
  let missing: number[] = [];
  const deps = swarmDeps(ctx, f, bar);
  // The first draw, before any byte: the size is on screen from the start.
  deps.progress(f.size - bytesStillNeeded(f.size, f.hashes.length, f.have), 0);
  for (let round = 0; round < 2; round++) {
    const result = await swarm(deps, f, info);
    for (const u of result.from) from.add(u);
    missing = result.missing;
    if (missing.length > 0) break;
    let bad: number[];
    try {
      const t0 = performance.now();
      bad = await ctx.store.finish(f);
      ctx.log.debug(`download ${f.name}: whole-file check and assembly took ${(performance.now() - t0).toFixed(0)} ms`);
    } catch (e) {
      return storeFailure(ctx.store, f.name, e);
    }
    if (bad.length === 0) break;
    ctx.log.debug(`download ${f.name}: chunks ${bad.join(", ")} failed the whole-file check, fetching again`);
    missing = bad;
  }
  return { from, missing };
}

/** What the swarm reports goes to the screen: a progress line on a TTY, a line per chunk elsewhere. */
function swarmDeps(ctx: FilesCtx, f: LocalFile, bar: boolean): SwarmDeps {
  const { out, registry, links } = ctx;
  const rate = new RateMeter(3000, () => ctx.clock.now());
  // Bytes already held count for the bar, not for the rate.
  let shown = f.size - bytesStillNeeded(f.size, f.hashes.length, f.have);
  return {
    me: ctx.me,
    store: ctx.store,
    log: ctx.log,
    clock: ctx.clock,
    search: (n) => registry.search(n),
    client: (u) => links.client(u),
    announce: (file, c) => registry.announce(file, c),
    chunkLanded: (c, u) => {
      if (!bar) say(out, T.chunkDownloaded(c, f.name, stripControls(u)));
    },
    chunkFailed: (c, u, o) => {
      if (o === "verify") say(out, T.chunkFailedVerification(c, f.name, stripControls(u)));
    },
    progress: (bytes, peers) => {
      if (!bar) return;
      if (bytes > shown) rate.add(bytes - shown);
      shown = bytes;
      const line = { name: f.name, chunksDone: f.have.size, chunksTotal: f.hashes.length, bytesDone: bytes, bytesTotal: f.size };
      out.progress!(formatProgress({ ...line, bytesPerSecond: rate.rate(), peers }, out.columns ?? 80));
    },
  };
}

/** `private <user> download <name> <chunk>`. */
export async function privateDownload(ctx: FilesCtx, user: string, name: string, c: number): Promise<void> {
  const { out, store } = ctx;
  if (badFileName(name)) return say(out, T.invalidFileName);
  if (!(await ctx.usable())) return;
  const cl = await ctx.links.client(user);
  if (typeof cl === "string") return say(out, cl);
  const info = await ctx.registry.search(name);
  if (!info || c < 1 || c > info.hashes.length) return say(out, T.lacksChunk(user, c, name));
  const f = await begin(ctx, name, info);
  if (typeof f === "string") return say(out, f);
  if (f.have.has(c)) return say(out, T.alreadyHaveChunk(c, name));
  const { start, end } = store.span(f, c);
  const { outcome, onDisk } = await cl.fetch(name, c, { path: store.partPath(name), start, size: end - start, hash: f.hashes[c - 1]! });
  if (outcome !== "ok") {
    ctx.log.debug(`private download of chunk ${c} of ${name} from ${user}: ${outcome}`);
    await dropIfNothingHeld(ctx, f);
    return say(out, failureText(outcome, c, name, user));
  }
  await store.markHeld(f, c, onDisk);
  ctx.registry.announce(f, c);
  say(out, T.chunkDownloaded(c, name, user));
  if (f.have.size === f.hashes.length) await assemble(ctx, f);
}

/** All chunks held: assemble and check (after `private … download` fetched the last one). */
async function assemble(ctx: FilesCtx, f: LocalFile): Promise<void> {
  try {
    const bad = await ctx.store.finish(f);
    if (bad.length) ctx.log.debug(`${f.name}: chunks ${bad.join(", ")} failed the whole-file check`);
  } catch (e) {
    ctx.log.debug(`${f.name}: not assembled: ${(e as Error).message}`);
  }
}

function failureText(o: FetchOutcome, c: number, name: string, user: string): string {
  switch (o) {
    case "not_held":
    case "bad_name":
      return T.lacksChunk(user, c, name);
    case "verify":
      return T.chunkFailedVerification(c, name, user);
    case "gone":
      return T.peerGone(user);
    default:
      return T.chunkFetchFailed(c, name, user);
  }
}
