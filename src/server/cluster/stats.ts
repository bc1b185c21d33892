/**
 * How many operations Redis ran, per command (`INFO commandstats`), for the bench
 * and the capacity figures in docs/scaling.md. A script run counts as one `evalsha`
 * whatever it does inside; `CONFIG RESETSTAT` (resetCommandStats) zeroes the counts.
 */
import type { RedisLink } from "./link.ts";

export type CommandStat = { calls: number; usec: number; failed: number };

/** INFO commandstats text → command name (lower case, `|` for subcommands) → counts. */
export function parseCommandStats(info: string): Map<string, CommandStat> {
  const out = new Map<string, CommandStat>();
  for (const line of info.split(/\r?\n/)) {
    const m = /^cmdstat_([^:]+):(.*)$/.exec(line);
    if (!m) continue;
    const f = new Map(m[2]!.split(",").map((kv) => kv.split("=") as [string, string]));
    out.set(m[1]!, {
      calls: Number(f.get("calls") ?? 0),
      usec: Number(f.get("usec") ?? 0),
      failed: Number(f.get("failed_calls") ?? 0),
    });
  }
  return out;
}

export async function commandStats(link: RedisLink): Promise<Map<string, CommandStat>> {
  return parseCommandStats(String(await link.command("INFO", ["commandstats"])));
}

export async function resetCommandStats(link: RedisLink): Promise<void> {
  await link.command("CONFIG", ["RESETSTAT"]);
}
