/**
 * The download progress line (behaviour.md §6 `download`): pure formatting and a rate meter.
 * Draw it with `term.progress(formatProgress(p, term.columns))` while chunks land and
 * `term.clearProgress()` when done; on a pipe `term.progress` draws nothing, so print
 * one line per chunk there instead (`term.showsProgress` tells which).
 *
 *   report.pdf [██████████░░░░░░░░░░] 5/10 chunks  1.2/2.4 MB  850 KB/s  3 peers
 */

export type DownloadProgress = {
  /** File name (shown first; shortened when the line is too narrow). */
  name: string;
  chunksDone: number;
  chunksTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** Current transfer rate (see RateMeter). */
  bytesPerSecond: number;
  /** Peers currently sending chunks. */
  peers: number;
};

const UNITS = ["B", "KB", "MB", "GB", "TB"];

/** 1536 → "1.5 KB" (powers of 1024, one decimal below 10, none above). */
export function formatBytes(n: number): string {
  let v = Math.max(0, n);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = u === 0 || v >= 10 ? 0 : 1;
  return `${v.toFixed(digits)} ${UNITS[u]}`;
}

/** A bar of `width` cells, filled in proportion to done/total. */
export function bar(done: number, total: number, width: number): string {
  const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const full = Math.round(frac * width);
  return "█".repeat(full) + "░".repeat(width - full);
}

/** The progress line, at most `columns - 1` characters wide. */
export function formatProgress(p: DownloadProgress, columns: number): string {
  const stats = [
    `${p.chunksDone}/${p.chunksTotal} chunks`,
    `${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}`,
    `${formatBytes(p.bytesPerSecond)}/s`,
    `${p.peers} ${p.peers === 1 ? "peer" : "peers"}`,
  ].join("  ");
  const room = Math.max(10, columns - 1);
  // The bar takes what is left after the stats and (up to 16 characters of) the name.
  let barWidth = Math.min(30, room - stats.length - Math.min(p.name.length, 16) - 4);
  if (barWidth < 5) barWidth = 0;
  const nameRoom = room - stats.length - 1 - (barWidth ? barWidth + 3 : 0);
  let name = p.name;
  if (name.length > nameRoom) name = nameRoom >= 2 ? name.slice(0, nameRoom - 1) + "…" : "";
  const line = [name, barWidth ? `[${bar(p.chunksDone, p.chunksTotal, barWidth)}]` : "", stats]
    .filter((s) => s !== "")
    .join(" ");
  return line.length > room ? line.slice(0, room - 1) + "…" : line;
}

/** Bytes per second over the last `windowMs`, from samples added as data lands. */
export class RateMeter {
  private samples: { at: number; bytes: number }[] = [];

  constructor(
    private readonly windowMs = 3000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  add(bytes: number): void {
    this.samples.push({ at: this.now(), bytes });
    this.trim();
  }

  /** Average rate over the window (0 before any data). */
  rate(): number {
    this.trim();
    if (this.samples.length === 0) return 0;
    const total = this.samples.reduce((s, x) => s + x.bytes, 0);
    const span = Math.max(this.now() - this.samples[0]!.at, 250);
    return (total * 1000) / span;
  }

  private trim(): void {
    const oldest = this.now() - this.windowMs;
    while (this.samples.length && this.samples[0]!.at < oldest) this.samples.shift();
  }
}
