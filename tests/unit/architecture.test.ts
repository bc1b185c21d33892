/**
 * The direction of imports in src/ (rules in .dependency-cruiser.cjs at the repo root):
 * no cycles; protocol ← net ← server / client, common used by all; the server and the
 * client never import each other; client features never import the app, main or the
 * terminal. dependency-cruiser runs under node; a violation fails with its list.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

const root = join(import.meta.dir, "..", "..");

type Violation = { from: string; to: string; rule: { name: string }; cycle?: { name: string }[] };

test("src/ follows the import rules", () => {
  const r = Bun.spawnSync(
    [join(root, "node_modules/.bin/depcruise"), "--config", ".dependency-cruiser.cjs", "--output-type", "json", "src"],
    { cwd: root, stdout: "pipe", stderr: "pipe" },
  );
  const out = r.stdout.toString();
  if (!out.trim().startsWith("{")) throw new Error(`depcruise did not run: ${r.stderr.toString() || out}`);
  const { summary } = JSON.parse(out) as { summary: { violations: Violation[]; totalCruised: number } };
  const found = summary.violations.map((v) =>
    v.cycle?.length ? `${v.rule.name}: ${[v.from, ...v.cycle.map((c) => c.name)].join(" → ")}` : `${v.rule.name}: ${v.from} → ${v.to}`,
  );
  expect(found).toEqual([]);
  // It looked at the whole tree, not an empty folder.
  expect(summary.totalCruised).toBeGreaterThan(40);
});
