/**
 * The file registry (state.ts FileIndex) in Redis: the same rules and byte caps as
 * files.ts, every change one Lua step (file-scripts.ts), so servers of a cluster
 * share one registry and a search through any of them sees every holder.
 */
import { checkRegistration, COST, DEFAULT_REGISTRY_LIMITS, fileCost, validChunks, type HaveOutcome, type RegisterOutcome, type RegistryLimits, type SearchAnswer } from "../files.ts";
import type { FileIndex } from "../state.ts";
import { ADD_HOLDING, DROP_HOLDINGS } from "./file-scripts.ts";
import { keys } from "./keys.ts";
import type { RedisCommands } from "./scripts.ts";

type Meta = { size: number; hashes: string[] };

/** A file's keys are PRE + its tag + META_AFTER / HOLDERS_AFTER (the scripts build them from the tag). */
const PRE = keys.fileMeta("").slice(0, keys.fileMeta("").indexOf("}"));
const META_AFTER = keys.fileMeta("").slice(PRE.length);
const HOLDERS_AFTER = keys.fileHolders("").slice(PRE.length);

export class RedisFiles implements FileIndex {
  constructor(
    private readonly redis: RedisCommands,
    private readonly limits: RegistryLimits = DEFAULT_REGISTRY_LIMITS,
  ) {}

  async register(user: string, name: string, size: number, hashes: string[], have?: number[]): Promise<RegisterOutcome> {
    const checked = checkRegistration(name, size, hashes, have);
    if ("why" in checked) return { code: "bad", why: checked.why };
    const meta = JSON.stringify({ size, hashes } satisfies Meta);
    const r = await this.add(user, name, "register", meta, checked.chunks, fileCost(name, hashes.length));
    if (r[0] === "conflict") {
      const known = JSON.parse(r[1]!) as Meta;
      return { code: "conflict", size: known.size, hashes: known.hashes };
    }
    if (r[0] === "full") return { code: "full", why: r[1]! };
    if (r[0] === "new" || r[0] === "same") return { code: r[0] };
    throw new Error(`add_holding: unexpected reply ${JSON.stringify(r)}`);
  }

  async have(user: string, name: string, chunks: number[]): Promise<HaveOutcome> {
    // The upper bound is the file's chunk count, checked in the script.
    if (!validChunks(chunks, Number.MAX_SAFE_INTEGER)) return "bad";
    const r = await this.add(user, name, "have", "", chunks, 0);
    if (r[0] === "ok" || r[0] === "not_found" || r[0] === "bad" || r[0] === "full") return r[0];
    throw new Error(`add_holding: unexpected reply ${JSON.stringify(r)}`);
  }

  async dropUser(user: string): Promise<void> {
    const args = [user, PRE, META_AFTER, HOLDERS_AFTER, String(COST.holder), String(COST.chunk)];
    await this.redis.script(DROP_HOLDINGS, [keys.filesOf(user), keys.fileBytesOf(user), keys.fileBytes()], args);
  }

  async search(name: string): Promise<SearchAnswer | undefined> {
    const [meta, holders] = await Promise.all([this.redis.command("HGET", [keys.fileMeta(name), "h"]), this.redis.command("HGETALL", [keys.fileHolders(name)])]);
    if (typeof meta !== "string") return undefined;
    const { size, hashes } = JSON.parse(meta) as Meta;
    const held = Object.entries((holders ?? {}) as Record<string, string>).map(([u, list]) => [u, JSON.parse(list) as number[]] as const);
    held.sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const maps = held.map(([, list]) => {
      const map = new Array<string>(hashes.length).fill("0");
      for (const c of list) map[c - 1] = "1";
      return map.join("");
    });
    return { size, hashes, users: held.map(([u]) => u), maps };
  }

  private async add(user: string, name: string, mode: "register" | "have", meta: string, chunks: number[], cost: number): Promise<string[]> {
    const k = [keys.fileMeta(name), keys.fileHolders(name), keys.filesOf(user), keys.fileBytesOf(user), keys.fileBytes()];
    const tag = keys.fileMeta(name).slice(PRE.length, -META_AFTER.length);
    const args = [user, tag, mode, meta, JSON.stringify(chunks), String(cost), String(this.limits.maxBytes), String(this.limits.maxBytesPerUser), String(COST.holder), String(COST.chunk)];
    return (await this.redis.script(ADD_HOLDING, k, args)) as string[];
  }
}
