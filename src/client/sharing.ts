/**
 * File sharing for the command loop (SPEC §6): register, searchFile, searchChunk,
 * `private <user> download <name> <chunk>` and `download <name>`, and the serving of
 * chunks to peers on every authenticated peer link.
 *
 * At login the files folder is read and everything it holds (complete files and the
 * verified chunks of partial downloads) is announced to the server again, since the
 * server only counts online users as holders. See docs/file-sharing.md.
 */
import { stat } from "node:fs/promises";
import { basename, isAbsolute, join, resolve } from "node:path";
import type { Logger } from "../common/logger.ts";
import { stripControls } from "../common/sanitize.ts";
import { badFileName, chunkCount, DEFAULT_CHUNKS } from "../protocol/files.ts";
import { KIND_DATA, type Frame } from "../protocol/frame.ts";
import type { PeerMsg } from "../protocol/messages.ts";
import { ChunkClient, type FetchOutcome } from "./download-fetch.ts";
import { swarm, othersOf, type FileInfo } from "./download.ts";
import type { PeerConn, Peers } from "./peers.ts";
import { ChunkServer } from "./sharing-serve.ts";
import { FileStore, LocalNameTaken, type LocalFile } from "./sharing-store.ts";
import type { Command } from "./commands.ts";
import { SessionError, type Reply, type ServerSession } from "./session.ts";
import type { Style } from "./terminal.ts";
import { T } from "./texts.ts";

/** What sharing needs of the terminal (progress is optional: a plain print is the fallback). */
export interface SharingTerm {
  print(text: string, style?: Style): void;
  progress?(text: string): void;
  clearProgress?(): void;
  readonly showsProgress?: boolean;
}

type ConnState = { client: ChunkClient; server: ChunkServer };

/** The file-sharing commands (commands.ts). */
export type FileCommand = Extract<Command, { name: "register" | "searchFile" | "searchChunk" | "download" | "privateDownload" }>;

export class Sharing {
  readonly store: FileStore;
  /** Resolves true once the files folder is read (false: unusable, reason in `unusable`). */
  readonly ready: Promise<boolean>;
  private unusable = "";
  private readonly conns = new WeakMap<PeerConn, ConnState>();
  private readonly opening = new Map<string, Promise<PeerConn | string>>();

  constructor(
    private readonly me: string,
    dir: string,
    private readonly term: SharingTerm,
    private readonly server: ServerSession,
    private readonly peers: Peers,
    private readonly log: Logger,
  ) {
    this.store = new FileStore(dir);
    peers.onConn = (conn) => void this.adopt(conn);
    this.ready = this.store
      .init((s) => log.debug(s))
      .then(() => {
        this.announceAll();
        return true;
      })
      .catch((e) => {
        this.unusable = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
        log.debug(`files folder ${dir}: ${this.unusable}`);
        return false;
      });
  }

  // ---- commands ----

  /** Run one file command. A lost server link ends it quietly (the app reports that). */
  async run(cmd: FileCommand): Promise<void> {
    try {
      switch (cmd.name) {
        case "register":
          return await this.register(cmd.path, cmd.chunks);
        case "searchFile":
          return await this.searchFile(cmd.file);
        case "searchChunk":
          return await this.searchChunk(cmd.file, cmd.chunks);
        case "download":
          return await this.download(cmd.file);
        case "privateDownload":
          return await this.privateDownload(cmd.user, cmd.file, cmd.chunk);
      }
    } catch (e) {
      this.term.clearProgress?.();
      if (e instanceof SessionError) return;
      this.log.debug(`${cmd.name}: ${(e as Error).stack ?? e}`);
      this.say(`Error. ${cmd.name} failed (${(e as Error).message})`);
    }
  }

  async register(pathArg: string, wanted?: number): Promise<void> {
    if (!(await this.usable())) return;
    const source = await this.findSource(pathArg);
    if (!source) return this.say(T.cannotRead(pathArg));
    const name = basename(source.path);
    if (badFileName(name)) return this.say(T.invalidFileName);
    const size = source.size;
    let n = chunkCount(size, wanted ?? DEFAULT_CHUNKS);
    let hashes: string[];
    try {
      hashes = await this.store.hashFile(source.path, size, n);
    } catch (e) {
      this.log.debug(`register ${source.path}: ${(e as Error).message}`);
      return this.say(T.cannotRead(pathArg));
    }
    // Copy into the files folder unless it is already there (or an identical copy is).
    let copyFrom: string | null = source.path;
    if (await this.store.isInPlace(source.path, name)) copyFrom = null;
    else {
      const dest = await stat(this.store.pathOf(name)).catch(() => null);
      if (dest) {
        const same = dest.isFile() && dest.size === size &&
          sameList(await this.store.hashFile(this.store.pathOf(name), size, n).catch(() => []), hashes);
        if (!same) return this.say(T.localNameTaken(name));
        copyFrom = null;
      }
    }
    let r = await this.server.request({ t: "file_register", name, size, hashes });
    if (r.code === "file_conflict" && r.size === size && r.hashes && r.hashes.length !== n) {
      // Same name and size, other chunking: the same content cut the registered way may match.
      const other = await this.store.hashFile(source.path, size, r.hashes.length).catch(() => []);
      if (sameList(other, r.hashes)) {
        n = other.length;
        hashes = other;
        r = await this.server.request({ t: "file_register", name, size, hashes });
      }
    }
    switch (r.code) {
      case "file_new":
      case "file_same":
        try {
          await this.store.adoptComplete(name, copyFrom, size, hashes);
        } catch (e) {
          this.log.debug(`register ${name}: cannot place it in the files folder: ${(e as Error).message}`);
          return this.say(T.cannotRead(pathArg));
        }
        return this.say(r.code === "file_new" ? T.fileRegistered(name, size, n) : T.fileAlreadyRegistered(name));
      case "file_conflict":
        return this.say(T.fileConflict(name));
      case "registry_full":
        return this.say(T.registryFull);
      default:
        return this.say(unexpected(r));
    }
  }

  async searchFile(name: string): Promise<void> {
    if (badFileName(name)) return this.say(T.invalidFileName);
    const info = await this.search(name);
    const users = info ? [...info.holders.keys()] : [];
    this.say(users.length ? T.fileAvailable(name, shown(users)) : T.fileNotAvailable(name));
  }

  async searchChunk(name: string, chunks: number[]): Promise<void> {
    if (badFileName(name)) return this.say(T.invalidFileName);
    const info = await this.search(name);
    for (const c of chunks) {
      const users = info ? [...info.holders].filter(([, s]) => s.has(c)).map(([u]) => u) : [];
      this.say(users.length ? T.chunkAvailable(c, name, shown(users)) : T.chunkNotAvailable(c, name));
    }
  }

  /** `private <user> download <name> <chunk>`. */
  async privateDownload(user: string, name: string, c: number): Promise<void> {
    if (badFileName(name)) return this.say(T.invalidFileName);
    if (!(await this.usable())) return;
    const cl = await this.client(user);
    if (typeof cl === "string") return this.say(cl);
    const info = await this.search(name);
    if (!info || c < 1 || c > info.hashes.length) return this.say(T.lacksChunk(user, c, name));
    let f: LocalFile;
    try {
      f = await this.store.startPartial(name, info.size, info.hashes);
    } catch (e) {
      return this.say(e instanceof LocalNameTaken ? T.localNameTaken(name) : T.filesFolderUnusable(this.store.dir, (e as Error).message));
    }
    if (f.have.has(c)) return this.say(T.alreadyHaveChunk(c, name));
    const { start, end } = this.store.span(f, c);
    const { outcome, onDisk } = await cl.fetch(name, c, { path: this.store.partPath(name), start, size: end - start, hash: f.hashes[c - 1]! });
    if (outcome === "ok") {
      await this.store.markHeld(f, c, onDisk);
      this.announce(f, c);
      this.say(T.chunkDownloaded(c, name, user));
      if (f.have.size === f.hashes.length) await this.complete(f);
      return;
    }
    this.log.debug(`private download of chunk ${c} of ${name} from ${user}: ${outcome}`);
    this.say(this.failureText(outcome, c, name, user));
  }

  /** `download <name>`: every missing chunk from every usable holder. */
  async download(name: string): Promise<void> {
    if (badFileName(name)) return this.say(T.invalidFileName);
    if (!(await this.usable())) return;
    const info = await this.search(name);
    if (!info) return this.say(T.fileNotAvailable(name));
    let f: LocalFile;
    try {
      f = await this.store.startPartial(name, info.size, info.hashes);
    } catch (e) {
      return this.say(e instanceof LocalNameTaken ? T.localNameTaken(name) : T.filesFolderUnusable(this.store.dir, (e as Error).message));
    }
    if (f.complete) return this.say(T.alreadyHaveFile(name, f.size));
    const others = othersOf(info, this.me);
    const usable = f.hashes.some((_, i) => !f.have.has(i + 1) && [...others.values()].some((s) => s.has(i + 1)));
    if (!usable && f.have.size < f.hashes.length) return this.say(T.fileNotAvailable(name));

    const bar = this.term.showsProgress === true && typeof this.term.progress === "function";
    const from = new Set<string>();
    let missing: number[] = [];
    // A second round only if the whole-content check after assembly threw chunks out.
    for (let round = 0; round < 2; round++) {
      const result = await swarm(
        {
          me: this.me,
          store: this.store,
          log: this.log,
          search: (n) => this.search(n),
          client: (u) => this.client(u),
          announce: (file, c) => this.announce(file, c),
          chunkLanded: (c, u) => {
            if (!bar) this.say(T.chunkDownloaded(c, name, u));
          },
          chunkFailed: (c, u, o) => {
            if (o === "verify") this.say(T.chunkFailedVerification(c, name, u));
          },
          progress: (bytes) => {
            if (bar) this.term.progress!(T.fileProgress(name, f.have.size, f.hashes.length, bytes, f.size));
          },
        },
        f,
        info,
      );
      for (const u of result.from) from.add(u);
      missing = result.missing;
      if (missing.length > 0) break;
      let bad: number[];
      try {
        const t0 = performance.now();
        bad = await this.store.finish(f);
        this.log.debug(`download ${name}: whole-file check and assembly took ${(performance.now() - t0).toFixed(0)} ms`);
      } catch (e) {
        if (bar) this.term.clearProgress?.();
        return this.say(e instanceof LocalNameTaken ? T.localNameTaken(name) : T.filesFolderUnusable(this.store.dir, (e as Error).message));
      }
      if (bad.length === 0) break;
      this.log.debug(`download ${name}: chunks ${bad.join(", ")} failed the whole-file check, fetching again`);
      missing = bad;
    }
    if (bar) this.term.clearProgress?.();
    if (missing.length > 0 || !f.complete) return this.say(T.downloadIncomplete(name, missing));
    if (from.size === 0) return this.say(T.alreadyHaveFile(name, f.size));
    this.say(T.fileDownloaded(name, f.size, shown([...from])));
  }

  // ---- serving and links ----

  /** Every authenticated peer link (both directions) serves our chunks and carries our requests. */
  private adopt(conn: PeerConn): ConnState {
    const known = this.conns.get(conn);
    if (known) return known;
    const st: ConnState = { client: new ChunkClient(conn, this.log), server: new ChunkServer(conn, this.store, this.log) };
    this.conns.set(conn, st);
    conn.onOther = (c, frame, msg) => this.onFrame(c, frame, msg);
    conn.onGone.push(() => {
      st.client.onGone();
      st.server.onGone();
    });
    return st;
  }

  private onFrame(conn: PeerConn, frame: Frame, msg: PeerMsg | null): boolean {
    const st = this.adopt(conn);
    if (frame.kind === KIND_DATA) {
      // Peer links stream DATA payloads (peers.ts): each frame here is the next piece of one.
      if (frame.stream === undefined) return false;
      st.client.onData(frame.stream, frame.body);
      return true;
    }
    switch (msg?.t) {
      case "chunk_get":
        st.server.onGet(msg);
        return true;
      case "chunk_cancel":
        st.server.onCancel(msg.req);
        return true;
      case "chunk_ok":
      case "chunk_none":
        st.client.onMessage(msg);
        return true;
      default:
        return false;
    }
  }

  /** A link to `user` (one opening at a time per user), ready for chunk requests. */
  private async client(user: string): Promise<ChunkClient | string> {
    let p = this.opening.get(user);
    if (!p) {
      p = this.peers
        .open(user)
        .catch((e: Error) => {
          this.log.debug(`peer ${user}: ${e.message}`);
          return T.peerUnreachable(user);
        })
        .finally(() => this.opening.delete(user));
      this.opening.set(user, p);
    }
    const conn = await p;
    return typeof conn === "string" ? conn : this.adopt(conn).client;
  }

  // ---- the registry ----

  private async search(name: string): Promise<FileInfo | null> {
    const r = await this.server.request({ t: "file_search", name });
    if (r.code !== "file" || r.size === undefined || !r.hashes) return null;
    const holders = new Map<string, Set<number>>();
    const users = r.users ?? [];
    const maps = r.maps ?? [];
    users.forEach((u, i) => {
      const held = new Set<number>();
      const map = maps[i] ?? "";
      for (let c = 1; c <= map.length && c <= r.hashes!.length; c++) if (map[c - 1] === "1") held.add(c);
      if (held.size > 0) holders.set(u, held);
    });
    return { size: r.size, hashes: r.hashes, holders };
  }

  /** Tell the server we hold chunk c of f now (registering f again if the server forgot it). */
  private announce(f: LocalFile, c: number): void {
    this.server
      .request({ t: "file_have", name: f.name, chunks: [c] })
      .then((r) => {
        if (r.code === "not_found") return this.registerHeld(f);
        if (r.code !== "ok") this.log.debug(`file_have ${f.name} ${c}: ${r.code}`);
      })
      .catch(() => {});
  }

  /** At login: announce everything the files folder holds. */
  private announceAll(): void {
    for (const f of this.store.files.values()) if (f.have.size > 0) void this.registerHeld(f);
  }

  private async registerHeld(f: LocalFile): Promise<void> {
    const have = f.complete ? undefined : [...f.have].sort((a, b) => a - b);
    const r = await this.server
      .request({ t: "file_register", name: f.name, size: f.size, hashes: f.hashes, ...(have ? { have } : {}) })
      .catch(() => null);
    if (r && r.code !== "file_new" && r.code !== "file_same") this.log.debug(`announcing ${f.name}: ${r.code}`);
  }

  // ---- helpers ----

  /** All chunks held: assemble and check (after `private … download` fetched the last one). */
  private async complete(f: LocalFile): Promise<void> {
    try {
      const bad = await this.store.finish(f);
      if (bad.length) this.log.debug(`${f.name}: chunks ${bad.join(", ")} failed the whole-file check`);
    } catch (e) {
      this.log.debug(`${f.name}: not assembled: ${(e as Error).message}`);
    }
  }

  private failureText(o: FetchOutcome, c: number, name: string, user: string): string {
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

  /** A relative path is looked up in the files folder first, then the working directory. */
  private async findSource(p: string): Promise<{ path: string; size: number } | null> {
    if (p.includes("\u0000")) return null;
    const candidates = isAbsolute(p) ? [p] : [join(this.store.dir, p), resolve(p)];
    for (const path of candidates) {
      const st = await stat(path).catch(() => null);
      if (st?.isFile()) return { path, size: st.size };
    }
    return null;
  }

  private async usable(): Promise<boolean> {
    if (await this.ready) return true;
    this.say(T.filesFolderUnusable(this.store.dir, this.unusable));
    return false;
  }

  private say(text: string): void {
    const bad = text.startsWith("Error.");
    this.term.print(text, bad ? "error" : "notice");
  }
}

/** User names as shown: controls stripped, sorted. */
function shown(users: string[]): string[] {
  return users.map(stripControls).sort();
}

function unexpected(r: Reply): string {
  return `Error. Unexpected answer from server (${r.code})`;
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The files folder: --files, else ./files/<username> (a name unfit for a path is made safe). */
export function filesDirFor(user: string, option: string | undefined): string {
  if (option) return resolve(option);
  const safe = badFileName(user) ? user.replace(/[^A-Za-z0-9_-]/g, "_") || "_" : user;
  return resolve("files", safe);
}
