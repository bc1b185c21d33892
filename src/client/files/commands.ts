/**
 * File sharing for the command loop (behaviour.md §6): register, searchFile, searchChunk,
 * `private <user> download <name> <chunk>` and `download <name>`. Built at login: it
 * reads the files folder, announces what it holds, and from then on every peer link
 * serves our chunks (links.ts). See docs/file-sharing.md.
 */
import { resolve } from "node:path";
import type { Clock } from "../../common/clock.ts";
import type { Logger } from "../../common/logger.ts";
import { badFileName } from "../../protocol/files.ts";
import type { Command } from "../commands.ts";
import type { ProgressOutput } from "../output.ts";
import type { Peers } from "../peer/peers.ts";
import { SessionError, type ServerSession } from "../session.ts";
import { T } from "../texts.ts";
import { say, shown, type FilesCtx } from "./context.ts";
import { download, privateDownload } from "./download.ts";
import { ChunkLinks } from "./links.ts";
import { register } from "./register.ts";
import { Registry } from "./registry.ts";
import { FileStore } from "./store.ts";

/** The file-sharing commands (commands.ts). */
export type FileCommand = Extract<Command, { name: "register" | "searchFile" | "searchChunk" | "download" | "privateDownload" }>;

export class Sharing {
  readonly store: FileStore;
  /** Resolves true once the files folder is read (false: unusable, reason in `unusable`). */
  readonly ready: Promise<boolean>;
  private unusable = "";
  private readonly ctx: FilesCtx;

  constructor(me: string, dir: string, out: ProgressOutput, server: ServerSession, peers: Peers, log: Logger, clock: Clock) {
    const store = (this.store = new FileStore(dir, log));
    const registry = new Registry(server, log);
    const links = new ChunkLinks(peers, store, log, clock);
    this.ctx = { me, store, registry, links, out, log, clock, usable: () => this.usable() };
    this.ready = store
      .init((s) => log.debug(s))
      .then(() => {
        registry.announceAll(store);
        return true;
      })
      .catch((e) => {
        this.unusable = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
        log.debug(`files folder ${dir}: ${this.unusable}`);
        return false;
      });
  }

  /** Run one file command. A lost server link ends it quietly (the app reports that). */
  async run(cmd: FileCommand): Promise<void> {
    const ctx = this.ctx;
    try {
      switch (cmd.name) {
        case "register":
          return await register(ctx, cmd.path, cmd.chunks);
        case "searchFile":
          return await this.searchFile(cmd.file);
        case "searchChunk":
          return await this.searchChunk(cmd.file, cmd.chunks);
        case "download":
          return await download(ctx, cmd.file);
        case "privateDownload":
          return await privateDownload(ctx, cmd.user, cmd.file, cmd.chunk);
      }
    } catch (e) {
      ctx.out.clearProgress?.();
      if (e instanceof SessionError) return;
      ctx.log.debug(`${cmd.name}: ${(e as Error).stack ?? e}`);
      say(ctx.out, `Error. ${cmd.name} failed (${(e as Error).message})`);
    }
  }

  private async searchFile(name: string): Promise<void> {
    if (badFileName(name)) return say(this.ctx.out, T.invalidFileName);
    const info = await this.ctx.registry.search(name);
    const users = info ? [...info.holders.keys()] : [];
    say(this.ctx.out, users.length ? T.fileAvailable(name, shown(users)) : T.fileNotAvailable(name));
  }

  private async searchChunk(name: string, chunks: number[]): Promise<void> {
    if (badFileName(name)) return say(this.ctx.out, T.invalidFileName);
    const info = await this.ctx.registry.search(name);
    for (const c of chunks) {
      const users = info ? [...info.holders].filter(([, s]) => s.has(c)).map(([u]) => u) : [];
      say(this.ctx.out, users.length ? T.chunkAvailable(c, name, shown(users)) : T.chunkNotAvailable(c, name));
    }
  }

  private async usable(): Promise<boolean> {
    if (await this.ready) return true;
    say(this.ctx.out, T.filesFolderUnusable(this.store.dir, this.unusable));
    return false;
  }
}

/** The files folder: --files, else ./files/<username> (a name unfit for a path is made safe). */
export function filesDirFor(user: string, option: string | undefined): string {
  if (option) return resolve(option);
  const safe = badFileName(user) ? user.replace(/[^A-Za-z0-9_-]/g, "_") || "_" : user;
  return resolve("files", safe);
}
