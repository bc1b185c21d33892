/**
 * Leftovers of interrupted steps in the files folder's .termchat folder, removed
 * when it is read at start: a manifest or a copy being written (`<name>.json.tmp`,
 * `<name>.copy`), and a `.part` whose manifest is gone (nothing says what it holds).
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";

/** Whether `entry` is such a leftover, given every entry of the folder. */
export function isLeftover(entry: string, entries: ReadonlySet<string>): boolean {
  if (entry.endsWith(".tmp") || entry.endsWith(".copy")) return true;
  return entry.endsWith(".part") && !entries.has(`${entry.slice(0, -".part".length)}.json`);
}

/** Remove the leftovers in `meta` (a link is removed, never followed); returns the entries that remain. */
export async function removeLeftovers(meta: string, log: (s: string) => void): Promise<string[]> {
  const entries = await readdir(meta);
  const all = new Set(entries);
  const kept: string[] = [];
  for (const entry of entries) {
    if (!isLeftover(entry, all)) {
      kept.push(entry);
      continue;
    }
    log(`files: removing leftover ${entry}`);
    await rm(join(meta, entry), { force: true, recursive: true });
  }
  return kept;
}
