/**
 * Turning per-run figures into the table: medians over runs, ratios to the
 * baselines of the same run, and the goals checked against them.
 */
import { median } from "./stats.ts";
import { columnOf, type Transport } from "./targets.ts";

/** results[scenario][column] = one Figures per run (null: not applicable; string: the error). */
export type Results = Record<string, Record<string, (Record<string, number> | string | null)[]>>;

export const COLUMNS = ["server", "null-relay", "ngircd", "inspircd"] as const;
const TITLES: Record<string, string> = { server: "./server", "null-relay": "null relay", ngircd: "ngIRCd", inspircd: "InspIRCd" };

export function medianOf(results: Results, scenario: string, column: string, figure: string): number {
  const runs = results[scenario]?.[column] ?? [];
  return median(runs.map((r) => (r && typeof r === "object" ? r[figure] : undefined)));
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return "";
  const a = Math.abs(v);
  if (a >= 100_000) return `${(v / 1000).toFixed(0)}k`;
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a === 0) return "0";
  return v.toFixed(2);
}
function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}×` : "";
}

function figuresOf(cols: Record<string, (Record<string, number> | string | null)[]>, columns: readonly string[]): string[] {
  const figures: string[] = [];
  for (const c of columns) {
    for (const r of cols[c] ?? []) if (r && typeof r === "object") for (const k of Object.keys(r)) if (!figures.includes(k)) figures.push(k);
  }
  return figures;
}

/** The markdown table of medians on one transport, with ./server's ratio to each baseline on it. */
export function table(results: Results, transport: Transport = "plain"): string {
  const cols = COLUMNS.map((c) => columnOf(c, transport));
  const head = ["scenario", "figure", ...COLUMNS.map((c) => TITLES[c]!), "÷ null relay", "÷ ngIRCd", "÷ InspIRCd"];
  const rows: string[][] = [];
  for (const [scenario, byCol] of Object.entries(results)) {
    if (scenario === "startup") continue;
    for (const f of figuresOf(byCol, cols)) {
      const m = cols.map((c) => medianOf(results, scenario, c, f));
      rows.push([scenario, f, ...m.map(fmt), ratio(m[0]!, m[1]!), ratio(m[0]!, m[2]!), ratio(m[0]!, m[3]!)]);
    }
    COLUMNS.forEach((c, i) => {
      const err = (byCol[cols[i]!] ?? []).find((r) => typeof r === "string");
      if (err) rows.push([scenario, `${TITLES[c]} failed`, String(err).split("\n")[0]!.slice(0, 160), "", "", "", "", "", ""]);
    });
  }
  const st = results.startup?.server ?? [];
  if (st.length) {
    const hello = medianOf(results, "startup", "server", "hello-world ms");
    const floor = medianOf(results, "startup", "server", "hello-world + readline ms");
    for (const f of ["client --version ms", "server --help ms", "hello-world ms", "hello-world + readline ms"]) {
      const v = medianOf(results, "startup", "server", f);
      const r = f.startsWith("hello") ? "" : `÷ hello ${ratio(v, hello)}, ÷ hello+readline ${ratio(v, floor)}`;
      rows.push(["startup", f, fmt(v), "", "", "", r, "", ""]);
    }
  }
  return markdown(head, rows);
}

function markdown(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

/** Each server's TLS medians next to its plain ones (TLS ÷ plain), figure by figure. */
export function tlsTable(results: Results): string {
  const head = ["scenario", "figure", ...COLUMNS.flatMap((c) => [TITLES[c]!, `${TITLES[c]} TLS`, "÷"])];
  const rows: string[][] = [];
  for (const [scenario, byCol] of Object.entries(results)) {
    if (scenario === "startup") continue;
    for (const f of figuresOf(byCol, COLUMNS.flatMap((c) => [c, columnOf(c, "tls")]))) {
      const cells = COLUMNS.flatMap((c) => {
        const p = medianOf(results, scenario, c, f);
        const t = medianOf(results, scenario, columnOf(c, "tls"), f);
        return [fmt(p), fmt(t), ratio(t, p)];
      });
      rows.push([scenario, f, ...cells]);
    }
  }
  return markdown(head, rows);
}

export type Goal = { goal: string; value: string; ok: boolean | null };

/** The goals, each checked against the medians (null: a baseline is missing). */
export function goals(results: Results): Goal[] {
  const m = (s: string, c: string, f: string) => medianOf(results, s, c, f);
  const out: Goal[] = [];
  const check = (goal: string, a: number, b: number, k: number, cmp: "ge" | "le") => {
    const ok = Number.isFinite(a) && Number.isFinite(b) ? (cmp === "ge" ? a >= k * b : a <= k * b) : null;
    out.push({ goal, value: Number.isFinite(a) && Number.isFinite(b) ? `${fmt(a)} vs ${fmt(b)} (${ratio(a, b)})` : "baseline missing", ok });
  };
  const zero = (goal: string, v: number) => out.push({ goal, value: Number.isFinite(v) ? fmt(v) : "not run", ok: Number.isFinite(v) ? v === 0 : null });
  check("direct msgs/s ≥ 0.8× null relay", m("direct", "server", "msgs/s"), m("direct", "null-relay", "msgs/s"), 0.8, "ge");
  check("direct msgs/s ≥ 1.0× ngIRCd", m("direct", "server", "msgs/s"), m("direct", "ngircd", "msgs/s"), 1.0, "ge");
  check("direct p99 ≤ ngIRCd's", m("direct", "server", "p99 ms"), m("direct", "ngircd", "p99 ms"), 1.0, "le");
  zero("direct lost = 0", m("direct", "server", "lost"));
  const idleN = Object.keys(Object.values(results.idle?.server ?? [])[0] ?? {}).filter((k) => k.startsWith("KiB/conn @"));
  const mid = idleN.find((k) => k.endsWith("@5000")) ?? idleN[Math.floor(idleN.length / 2)];
  const top = idleN[idleN.length - 1];
  if (mid) check(`idle ${mid} ≤ 1.5× ngIRCd`, m("idle", "server", mid), m("idle", "ngircd", mid), 1.5, "le");
  if (top) {
    const n = Number(top.split("@")[1]);
    const held = m("idle", "server", `held @${n}`);
    out.push({ goal: `idle: ${n} clients held`, value: Number.isFinite(held) ? fmt(held) : "not run", ok: Number.isFinite(held) ? held >= n : null });
  }
  check("broadcast p99 ≤ 1.2× null relay", m("broadcast", "server", "p99 ms"), m("broadcast", "null-relay", "p99 ms"), 1.2, "le");
  zero("broadcast lost = 0", m("broadcast", "server", "lost"));
  check("login storm ≥ 0.5× null relay", m("storm", "server", "logins/s"), m("storm", "null-relay", "logins/s"), 0.5, "ge");
  tlsGoals(results, check, zero);
  for (const t of ["plain", "tls"] as const) anchorGoals(results, t, check, out);
  check("client startup ≤ 1.3× hello-world", m("startup", "server", "client --version ms"), m("startup", "server", "hello-world ms"), 1.3, "le");
  check(
    "client startup ≤ 1.3× hello-world + readline (like for like)",
    m("startup", "server", "client --version ms"),
    m("startup", "server", "hello-world + readline ms"),
    1.3,
    "le",
  );
  return out;
}

type Check = (goal: string, a: number, b: number, k: number, cmp: "ge" | "le") => void;

/** The trust issue's goals: TLS on both sides of each comparison, and TLS's cost to ./server. */
function tlsGoals(results: Results, check: Check, zero: (goal: string, v: number) => void): void {
  if (!results.idle?.["server+tls"] && !results.direct?.["server+tls"] && !results.storm?.["server+tls"]) return;
  const m = (s: string, c: string, f: string) => medianOf(results, s, c, f);
  check("TLS: direct msgs/s ≥ 1.0× ngIRCd-TLS", m("direct", "server+tls", "msgs/s"), m("direct", "ngircd+tls", "msgs/s"), 1.0, "ge");
  check("TLS: direct msgs/s ≥ 0.9× InspIRCd-TLS", m("direct", "server+tls", "msgs/s"), m("direct", "inspircd+tls", "msgs/s"), 0.9, "ge");
  check("TLS: direct p99 ≤ ngIRCd-TLS's", m("direct", "server+tls", "p99 ms"), m("direct", "ngircd+tls", "p99 ms"), 1.0, "le");
  zero("TLS: direct lost = 0", m("direct", "server+tls", "lost"));
  const idleN = Object.keys(Object.values(results.idle?.["server+tls"] ?? [])[0] ?? {}).filter((k) => k.startsWith("KiB/conn @"));
  const mid = idleN.find((k) => k.endsWith("@5000")) ?? idleN[Math.floor(idleN.length / 2)];
  if (mid) check(`TLS: idle ${mid} ≤ 1.5× ngIRCd-TLS`, m("idle", "server+tls", mid), m("idle", "ngircd+tls", mid), 1.5, "le");
  check("TLS: login storm ≥ 1.0× ngIRCd-TLS", m("storm", "server+tls", "logins/s"), m("storm", "ngircd+tls", "logins/s"), 1.0, "ge");
  check("TLS: direct msgs/s ≥ 0.7× ./server's plain TCP", m("direct", "server+tls", "msgs/s"), m("direct", "server", "msgs/s"), 0.7, "ge");
}

/**
 * The performance issue's goals, on one transport: InspIRCd as the anchor for a
 * direct message, the null relay for a login (in every run, not only the median),
 * ngIRCd for idle memory at the largest count.
 */
function anchorGoals(results: Results, t: Transport, check: Check, out: Goal[]): void {
  const col = (c: string) => columnOf(c, t);
  if (!results.direct?.[col("server")] && !results.storm?.[col("server")] && !results.idle?.[col("server")]) return;
  const m = (s: string, c: string, f: string) => medianOf(results, s, col(c), f);
  const on = t === "tls" ? " (TLS)" : " (plain)";
  check(`direct msgs/s ≥ 1.0× InspIRCd${on}`, m("direct", "server", "msgs/s"), m("direct", "inspircd", "msgs/s"), 1.0, "ge");
  check(`direct p99 ≤ InspIRCd's${on}`, m("direct", "server", "p99 ms"), m("direct", "inspircd", "p99 ms"), 1.0, "le");
  check(`direct server µs/msg ≤ InspIRCd's${on}`, m("direct", "server", "server µs/msg"), m("direct", "inspircd", "server µs/msg"), 1.0, "le");
  check(`storm server µs/login ≤ 2× null relay's${on}`, m("storm", "server", "server µs/login"), m("storm", "null-relay", "server µs/login"), 2.0, "le");
  const ours = results.storm?.[col("server")] ?? [];
  const relay = results.storm?.[col("null-relay")] ?? [];
  const ratios = ours.map((r, i) => {
    const b = relay[i];
    return r && typeof r === "object" && b && typeof b === "object" ? r["logins/s"]! / b["logins/s"]! : NaN;
  });
  const known = ratios.length > 0 && ratios.every(Number.isFinite);
  out.push({
    goal: `login storm ≥ 0.6× null relay in every run${on}`,
    value: known ? ratios.map((r) => `${r.toFixed(2)}×`).join(", ") : "baseline missing",
    ok: known ? ratios.every((r) => r >= 0.6) : null,
  });
  const idleN = Object.keys(Object.values(results.idle?.[col("server")] ?? [])[0] ?? {}).filter((k) => k.startsWith("KiB/conn @"));
  const top = idleN.sort((a, b) => Number(a.split("@")[1]) - Number(b.split("@")[1]))[idleN.length - 1];
  if (top) check(`idle ${top} ≤ ngIRCd's${on}`, m("idle", "server", top), m("idle", "ngircd", top), 1.0, "le");
}

export function goalsText(gs: Goal[]): string {
  return gs.map((g) => `${g.ok === null ? "[ -- ]" : g.ok ? "[ ok ]" : "[FAIL]"} ${g.goal}: ${g.value}`).join("\n");
}
