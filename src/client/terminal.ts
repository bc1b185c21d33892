/**
 * The client's terminal: line input through readline, output that never garbles
 * the line being typed, colour only on a terminal, a progress line for downloads.
 *
 * On a pipe (scripts, tests) there is no prompt, no colour, no progress line, and
 * every event is exactly one output line; lines are queued because readline emits
 * all the lines of one input chunk at once (on a pipe, a reader that waited for
 * each line with a fresh listener lost every line after the first and hung).
 *
 * On a TTY the bottom of the screen is the *input area*: an optional progress line,
 * then the prompt and the half-typed line (which may wrap over several rows).
 * Every output goes above it: erase the input area, write the output, draw the
 * input area again through readline's own refresh, so the typed text and the
 * cursor position survive any number of incoming messages; the lines printed in
 * one turn are shown together (TurnWriter). See docs/terminal.md.
 */
import * as readline from "node:readline";
import kleur from "kleur";
import { systemClock, type Clock } from "../common/clock.ts";
import { onExitFlush } from "./exit.ts";
import { stripControls } from "../common/sanitize.ts";
import type { ProgressOutput, Style } from "./output.ts";
import { paint } from "./paint.ts";
import { T } from "./texts.ts";
import { Throttle } from "./throttle.ts";
import { TurnWriter } from "./turn-writer.ts";

export type { Style } from "./output.ts";
export { exitAfterFlush } from "./exit.ts";

export type TerminalOptions = {
  /** Colours wanted (no --no-color, no NO_COLOR); used only if stdout is a terminal. */
  color: boolean;
  /** Tab completion: candidates for the word before the cursor, and that word. */
  complete?: (line: string) => [string[], string];
  /** For the progress line's redraw interval (the system clock if not given). */
  clock?: Clock;
};

/** The command prompt; any other prompt is a login prompt (kept out of history). */
export const COMMAND_PROMPT = "> ";
/** Redraw the progress line at most this often (the latest text always lands). */
const PROGRESS_EVERY_MS = 100;

/** What we reach into on node:readline's Interface (public fields Node's types omit). */
type RlInternals = { output: NodeJS.WritableStream | null; prevRows: number; history: string[] };

export class Terminal implements ProgressOutput {
  /** Interactive: stdin and stdout are both terminals. */
  readonly isTTY = !!process.stdin.isTTY && !!process.stdout.isTTY;
  /** Colour codes are written (stdout is a terminal, colour not turned off). */
  readonly color: boolean;
  /**
   * What Ctrl-C does. Called at once when `confirmQuit` is false (login); with it,
   * Ctrl-C on a typed line clears the line, and on an empty line asks once more.
   * Without a handler, Ctrl-C ends input like Ctrl-D.
   */
  onQuit: (() => void) | null = null;
  confirmQuit = false;

  private readonly rl: readline.Interface;
  private readonly out = process.stdout;
  private queued: string[] = [];
  private waiter: ((line: string | null) => void) | null = null;
  private closed = false;
  /** TTY: the prompt and the typed line are drawn at the bottom of the screen. */
  private inputShown = false;
  /** TTY password entry: readline's output is detached, nothing typed is drawn. */
  private muted = false;
  private progressText: string | null = null;
  private progressShown = false;
  private readonly progressRedraw: Throttle;
  /** Ctrl-C was pressed once on an empty line (and nothing typed since). */
  private armed = false;
  /** TTY: the terminal went away (hangup): nothing more is drawn on it. */
  private gone = false;
  /** What is printed goes out once per turn (the messages of one read: one write, one redraw). */
  private readonly lines = new TurnWriter(this.isTTY ? (text) => this.showAbove(text) : (text) => this.out.write(text));

  constructor(opts: TerminalOptions) {
    this.color = opts.color && !!process.stdout.isTTY && process.env.TERM !== "dumb";
    kleur.enabled = this.color;
    this.progressRedraw = new Throttle(opts.clock ?? systemClock, PROGRESS_EVERY_MS, () => this.redrawProgress());
    this.rl = readline.createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal: this.isTTY,
      historySize: this.isTTY ? 200 : 0,
      removeHistoryDuplicates: true,
      prompt: COMMAND_PROMPT,
      completer: opts.complete,
    });
    onExitFlush(this.lines.flush);
    this.rl.on("line", (l) => {
      // At hangup readline hands over the half-typed line as if Enter was pressed: drop it.
      if (this.gone) return;
      if (this.isTTY) this.draw(() => this.afterEnter(l));
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(l);
      } else this.queued.push(l);
    });
    this.rl.on("close", () => this.onClosed());
    if (this.isTTY) {
      // A terminal's input ends only when the terminal goes away (Ctrl-D is a key).
      process.stdin.prependListener("end", () => this.hangup());
      // Writing to, or setting the mode of, a terminal that is gone fails: stop drawing.
      this.rl.on("error", () => this.hangup());
      process.stdout.on("error", () => this.hangup());
      this.rl.on("SIGINT", () => this.interrupt());
      // Any key but Ctrl-C disarms the "press Ctrl-C again" question.
      process.stdin.on("keypress", (_s: string, key?: { ctrl?: boolean; name?: string }) => {
        if (!(key?.ctrl && key.name === "c")) this.armed = false;
      });
      // Whatever way the process ends, leave the terminal as it was found.
      process.on("exit", () => this.close());
    }
  }

  /** Terminal width (80 on a pipe). */
  get columns(): number {
    return this.out.columns || 80;
  }

  /** Next line typed, or null at end of input (Ctrl-D, EOF on a pipe). */
  nextLine(prompt = COMMAND_PROMPT): Promise<string | null> {
    if (!this.isTTY) {
      // Login prompts are shown on a pipe too, as whole lines so output stays line-based.
      if (prompt !== COMMAND_PROMPT) this.lines.write(prompt.trimEnd() + "\n");
      if (this.queued.length) return Promise.resolve(this.queued.shift()!);
      if (this.closed) return Promise.resolve(null);
      return new Promise((r) => (this.waiter = r));
    }
    if (this.queued.length) return Promise.resolve(this.queued.shift()!);
    if (this.closed) return Promise.resolve(null);
    this.draw(() => {
      if (this.inputShown) this.eraseInputArea();
      this.rl.setPrompt(prompt);
      this.inputShown = true;
      this.drawInputArea(); // keeps what was typed ahead, and where the cursor is in it
    });
    return new Promise((r) => (this.waiter = r));
  }

  /** Like nextLine, but what is typed is not echoed on a TTY (nor kept in history). */
  nextSecret(prompt: string): Promise<string | null> {
    const p = this.nextLine(prompt);
    if (this.isTTY && this.waiter !== null) {
      this.muted = true;
      this.internals.output = null;
    }
    return p;
  }

  /** Print one event above the line being typed, then redraw that line. */
  print(text: string, style: Style = "plain"): void {
    this.lines.write(this.paint(text, style) + "\n");
  }

  printLines(lines: string[], style: Style = "plain"): void {
    for (const l of lines) this.print(l, style);
  }

  /**
   * Show `text` on the status line just above the prompt, replacing what was there
   * (redrawn at most every 100 ms; the latest text is always shown). Only on a TTY:
   * on a pipe this does nothing, so print one line per step there (`showsProgress`).
   */
  progress(text: string): void {
    if (!this.isTTY || this.closed) return;
    this.progressText = stripControls(text);
    this.progressRedraw.request(); // a redraw already due will use the new text
  }

  /** Remove the progress line (nothing to do on a pipe or when none is shown). */
  clearProgress(): void {
    this.progressRedraw.cancel();
    if (this.progressText === null) return;
    this.progressText = null;
    if (this.progressShown) this.redraw();
  }

  /** True when `progress()` draws something (a TTY); else print a line per step. */
  get showsProgress(): boolean {
    return this.isTTY && !this.closed && !this.gone;
  }

  /** The terminal is gone (hangup): from now on nothing is drawn or read. */
  hangup(): void {
    if (!this.isTTY || this.gone) return;
    this.gone = true;
    this.inputShown = false;
    this.progressShown = false;
    this.internals.output = null;
  }

  /** Stop reading; erase the prompt; give the terminal back in its normal mode. */
  close(): void {
    if (this.closed) return;
    this.rl.close(); // leaves raw mode, emits "close"
    this.onClosed();
  }

  // ---- the input area (TTY only) ----

  private get internals(): RlInternals {
    return this.rl as unknown as RlInternals;
  }

  /** Run terminal drawing (after the lines printed so far); if the terminal is gone (writes fail), stop drawing. */
  private draw(fn: () => void): void {
    this.lines.flush();
    if (this.gone) return;
    try {
      fn();
    } catch {
      this.hangup();
    }
  }

  /** TTY: lines above the input area, which is then drawn again. */
  private showAbove(text: string): void {
    this.draw(() => {
      if (!this.inputShown) {
        this.out.write(text);
        return;
      }
      this.eraseInputArea();
      this.out.write(text);
      this.drawInputArea();
    });
  }

  private redraw(): void {
    this.draw(() => {
      if (!this.inputShown) return;
      this.eraseInputArea();
      this.drawInputArea();
    });
  }

  private redrawProgress(): void {
    if (this.closed || this.progressText === null) return;
    if (this.inputShown) this.redraw();
    else
      this.draw(() => {
        this.inputShown = true;
        this.drawInputArea();
      });
  }

  /** Move to the top of the input area and clear from there down. */
  private eraseInputArea(): void {
    const rows = (this.muted ? 0 : this.rl.getCursorPos().rows) + (this.progressShown ? 1 : 0);
    if (rows > 0) readline.moveCursor(this.out, 0, -rows);
    readline.cursorTo(this.out, 0);
    readline.clearScreenDown(this.out);
    this.progressShown = false;
  }

  /**
   * Draw the progress line (if any), the prompt and the typed line, with the cursor
   * where it was in the line (never reset: text may have been typed ahead).
   */
  private drawInputArea(): void {
    if (this.progressText !== null) {
      this.out.write(this.fit(this.paint(this.progressText, "progress"), this.progressText) + "\n");
      this.progressShown = true;
    }
    if (this.muted) {
      this.out.write(this.rl.getPrompt());
      return;
    }
    this.internals.prevRows = 0; // we put the cursor at the prompt's first row
    this.rl.prompt(true);
  }

  /** A status line must not wrap, or the input area's height would be wrong. */
  private fit(painted: string, plain: string): string {
    const max = Math.max(1, this.columns - 1);
    if (Bun.stringWidth(plain) <= max) return painted;
    return this.paint(plain.slice(0, max - 1) + "…", "progress");
  }

  /** Enter was pressed: readline has written "\r\n" and emptied its line. */
  private afterEnter(line: string): void {
    const prompt = this.rl.getPrompt();
    const secret = this.muted;
    if (this.muted) {
      this.muted = false;
      this.internals.output = this.out;
      this.out.write("\n"); // readline's "\r\n" went nowhere
    }
    if (prompt !== COMMAND_PROMPT) {
      // Login answers, the password above all, stay out of history.
      const h = this.internals.history;
      if (Array.isArray(h) && h[0] === line) h.shift();
      this.rl.setPrompt("");
    }
    if (this.progressShown) {
      // The entered line was drawn under the progress line: move it above.
      const cols = this.columns;
      const rows = Math.max(1, Math.ceil(Bun.stringWidth(prompt + (secret ? "" : line)) / cols));
      readline.moveCursor(this.out, 0, -(rows + 1));
      readline.cursorTo(this.out, 0);
      readline.clearScreenDown(this.out);
      this.out.write(prompt + (secret ? "" : line) + "\n");
      this.progressShown = false;
      if (prompt !== COMMAND_PROMPT) this.drawInputArea();
    }
    // Keep the prompt on screen while the command runs, for typing ahead.
    if (prompt === COMMAND_PROMPT) this.drawInputArea();
  }

  private interrupt(): void {
    if (this.confirmQuit && !this.closed) {
      if (this.rl.line !== "") {
        // Like a shell: Ctrl-C throws away the half-typed line.
        this.rl.write(null, { ctrl: true, name: "e" });
        this.rl.write(null, { ctrl: true, name: "u" });
        this.armed = false;
        return;
      }
      if (!this.armed) {
        this.armed = true;
        this.print(T.interruptAgain, "notice");
        return;
      }
    }
    this.armed = false;
    if (this.onQuit) this.onQuit();
    else this.close();
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.progressRedraw.cancel();
    this.progressText = null;
    if (this.isTTY && !this.gone) {
      if (this.muted) {
        this.muted = false;
        this.internals.output = this.out;
      }
      this.draw(() => {
        if (this.inputShown) this.eraseInputArea();
        if (process.stdin.isTTY && process.stdin.isRaw) process.stdin.setRawMode(false);
      });
      this.inputShown = false;
    }
    const w = this.waiter;
    this.waiter = null;
    w?.(null);
  }

  private paint(text: string, style: Style): string {
    return this.color ? paint(text, style) : text;
  }
}
