/**
 * The client's terminal: line input through readline, output that never garbles
 * the line being typed, colour only on a TTY.
 *
 * On a pipe (scripts, tests) there is no prompt and every event is exactly one
 * output line; lines are queued because readline emits a whole chunk's lines at once.
 */
import * as readline from "node:readline";
import kleur from "kleur";

export type Style = "plain" | "chat" | "private" | "error" | "notice" | "system";

export type TerminalOptions = {
  color: boolean;
  /** Tab completion candidates for the current line. */
  complete?: (line: string) => string[];
};

export class Terminal {
  readonly isTTY = !!process.stdin.isTTY && !!process.stdout.isTTY;
  private readonly rl: readline.Interface;
  private queued: string[] = [];
  private waiter: ((line: string | null) => void) | null = null;
  private closed = false;
  private muted = false;
  private prompting = false;
  private readonly color: boolean;
  /** Called on Ctrl-C at the command prompt (TTY only). */
  onInterrupt: (() => void) | null = null;

  constructor(opts: TerminalOptions) {
    this.color = opts.color && this.isTTY;
    kleur.enabled = this.color;
    this.rl = readline.createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal: this.isTTY,
      historySize: this.isTTY ? 200 : 0,
      prompt: "> ",
      completer: opts.complete
        ? (line: string): [string[], string] => {
            const hits = opts.complete!(line);
            const word = line.split(" ").pop() ?? "";
            return [hits, word];
          }
        : undefined,
    });
    this.rl.on("line", (l) => {
      this.prompting = false;
      if (this.muted) {
        this.muted = false;
        if (this.isTTY) process.stdout.write("\n");
      }
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(l);
      } else this.queued.push(l);
    });
    this.rl.on("close", () => {
      this.closed = true;
      const w = this.waiter;
      this.waiter = null;
      w?.(null);
    });
    this.rl.on("SIGINT", () => {
      if (this.onInterrupt) this.onInterrupt();
      else this.rl.close();
    });
    // Password entry: silence readline's echo while muted (private API, works in Bun 1.4).
    const r = this.rl as any;
    const origWrite = r._writeToOutput?.bind(r);
    if (origWrite) r._writeToOutput = (s: string) => void (this.muted ? undefined : origWrite(s));
  }

  /** Next line typed, or null at end of input (Ctrl-D, EOF on a pipe). */
  nextLine(prompt = "> "): Promise<string | null> {
    this.rl.setPrompt(prompt);
    // Login prompts are shown on a pipe too, as whole lines so output stays line-based.
    if (!this.isTTY && prompt !== "> ") process.stdout.write(prompt.trimEnd() + "\n");
    if (this.queued.length) return Promise.resolve(this.queued.shift()!);
    if (this.closed) return Promise.resolve(null);
    if (this.isTTY) {
      this.prompting = true;
      this.rl.prompt();
    }
    return new Promise((r) => (this.waiter = r));
  }

  /** Like nextLine, but what is typed is not echoed on a TTY. */
  nextSecret(prompt: string): Promise<string | null> {
    const p = this.nextLine(prompt);
    this.muted = this.isTTY && this.waiter !== null;
    return p;
  }

  /** Print one event above the line being typed, then redraw that line. */
  print(text: string, style: Style = "plain"): void {
    const out = this.paint(text, style);
    if (!this.isTTY || !this.prompting) {
      process.stdout.write(out + "\n");
      return;
    }
    readline.cursorTo(process.stdout, 0);
    readline.clearLine(process.stdout, 0);
    const { rows } = this.rl.getCursorPos();
    if (rows > 0) {
      readline.moveCursor(process.stdout, 0, -rows);
      readline.cursorTo(process.stdout, 0);
      readline.clearScreenDown(process.stdout);
    }
    process.stdout.write(out + "\n");
    if (!this.muted) this.rl.prompt(true);
  }

  printLines(lines: string[], style: Style = "plain"): void {
    for (const l of lines) this.print(l, style);
  }

  close(): void {
    this.prompting = false;
    this.rl.close();
  }

  private paint(text: string, style: Style): string {
    if (!this.color) return text;
    switch (style) {
      case "plain":
        return text;
      case "chat": {
        const i = text.indexOf(": ");
        return i < 0 ? text : kleur.bold().cyan(text.slice(0, i)) + text.slice(i);
      }
      case "private": {
        const i = text.indexOf(": ");
        return i < 0 ? kleur.magenta(text) : kleur.bold().magenta(text.slice(0, i)) + text.slice(i);
      }
      case "error":
        return kleur.red(text);
      case "notice":
        return kleur.yellow(text);
      case "system":
        return kleur.green(text);
    }
  }
}

/** Write everything out, then exit (process.exit alone can cut piped output). */
export function exitAfterFlush(code: number): void {
  process.stdout.write("", () => process.exit(code));
  setTimeout(() => process.exit(code), 1000).unref?.();
}
