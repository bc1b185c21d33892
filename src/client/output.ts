/**
 * What features (peer/, files/) may do to the screen. The terminal implements it;
 * features depend on this small interface, never on the terminal's class, so they
 * can be driven by a fake in tests and the import graph stays one-way.
 */

export type Style = "plain" | "chat" | "private" | "error" | "notice" | "system" | "progress";

export interface Output {
  /** One event, as one line above whatever is being typed. */
  print(text: string, style?: Style): void;
}

/** An output that may also keep a live progress line (a TTY); a plain print is the fallback. */
export interface ProgressOutput extends Output {
  progress?(text: string): void;
  clearProgress?(): void;
  /** True when `progress()` draws something; else print one line per step. */
  readonly showsProgress?: boolean;
  /** Width of the screen in characters (a progress line must fit on one row). */
  readonly columns?: number;
}
