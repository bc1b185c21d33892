/**
 * The client side of the server's file registry: search, announce held chunks
 * (file_have), register (again) what the files folder holds. At login everything
 * held is announced again, since the server only counts online users as holders.
 */
import type { Logger } from "../../common/logger.ts";
import type { Answer, ServerSession } from "../session.ts";
import type { FileStore, LocalFile } from "./store.ts";

/** What the registry says about a file: shape and, per holder, the chunks they hold. */
export type FileInfo = { size: number; hashes: string[]; holders: Map<string, Set<number>> };

export class Registry {
  constructor(
    private readonly server: ServerSession,
    private readonly log: Logger,
  ) {}

  /** The registry's answer for `name`, or null if no online user holds it. */
  async search(name: string): Promise<FileInfo | null> {
    const r = await this.server.request({ t: "file_search", name });
    if (r.code !== "file") return null;
    const hashes = r.hashes;
    const holders = new Map<string, Set<number>>();
    r.users.forEach((u, i) => {
      const held = new Set<number>();
      const map = r.maps[i] ?? "";
      for (let c = 1; c <= map.length && c <= hashes.length; c++) if (map[c - 1] === "1") held.add(c);
      if (held.size > 0) holders.set(u, held);
    });
    return { size: r.size, hashes, holders };
  }

  register(name: string, size: number, hashes: string[]): Promise<Answer<"file_register">> {
    return this.server.request({ t: "file_register", name, size, hashes });
  }

  /** Tell the server we hold chunk c of f now (registering f again if the server forgot it). */
  announce(f: LocalFile, c: number): void {
    this.server
      .request({ t: "file_have", name: f.name, chunks: [c] })
      .then((r) => {
        if (r.code === "not_found") return this.registerHeld(f);
        if (r.code !== "ok") this.log.debug(`file_have ${f.name} ${c}: ${r.code}`);
      })
      .catch((e) => this.log.debug(`file_have ${f.name} ${c} not sent: ${(e as Error).message}`));
  }

  /** At login: announce everything the files folder holds. */
  announceAll(store: FileStore): void {
    for (const f of store.files.values()) if (f.have.size > 0) void this.registerHeld(f);
  }

  private async registerHeld(f: LocalFile): Promise<void> {
    const have = f.complete ? undefined : [...f.have].sort((a, b) => a - b);
    try {
      const r = await this.server.request({ t: "file_register", name: f.name, size: f.size, hashes: f.hashes, ...(have ? { have } : {}) });
      if (r.code !== "file_new" && r.code !== "file_same") this.log.debug(`announcing ${f.name}: ${r.code}`);
    } catch (e) {
      this.log.debug(`announcing ${f.name}: not sent: ${(e as Error).message}`);
    }
  }
}
