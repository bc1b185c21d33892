/**
 * Drive a program in a real pseudo-terminal (Bun.spawn `terminal`) and read the
 * screen a person would see, rendered by @xterm/headless.
 *
 * Bun's built-in PTY gives the child a real terminal (isTTY, echo, raw mode, Ctrl
 * keys), so no tmux or other system package is needed. Enter is typed as "\r" (not
 * "\n"). The headless screen parses what it is given asynchronously: before reading
 * it, wait until every write's callback has run, and poll for the expected text with
 * a deadline rather than sleeping a fixed time.
 *
 * Every process started here is killed by PID in `killPtys()` (call it from afterEach).
 */
import { expect } from "bun:test";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { Terminal as Screen } from "@xterm/headless";
import { CLIENT_BIN, PASSWORDS, tempDir, WELCOME } from "./harness.ts";

const started = new Set<Subprocess>();

export async function killPtys(): Promise<void> {
  for (const p of started) {
    if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  }
  await Promise.all([...started].map((p) => p.exited));
  for (const p of started) p.terminal?.close();
  started.clear();
}

/** Environment for a terminal program: a real TERM, and colour unless asked otherwise. */
export function ttyEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "NO_COLOR") env[k] = v;
  return { ...env, TERM: "xterm-256color", ...extra };
}

export class Pty {
  readonly screen: Screen;
  /** Every byte the program wrote, decoded. */
  raw = "";
  readonly proc: Subprocess;
  private readonly decoder = new TextDecoder();
  /** Writes the screen has not parsed yet (it parses asynchronously). */
  private pending = 0;

  constructor(cmd: string[], opts: { cols?: number; rows?: number; env?: Record<string, string>; cwd?: string } = {}) {
    const cols = opts.cols ?? 80;
    const rows = opts.rows ?? 24;
    this.screen = new Screen({ cols, rows, allowProposedApi: true });
    const cwd = opts.cwd ?? tempDir("chat-tty-");
    const env = { ...(opts.env ?? ttyEnv()) };
    // A home of its own (known_servers is written there), unless the test chose one.
    if (env.HOME === process.env.HOME) Object.assign(env, { HOME: cwd, XDG_CONFIG_HOME: join(cwd, ".config") });
    this.proc = Bun.spawn(cmd, {
      cwd,
      env,
      terminal: {
        cols,
        rows,
        data: (_t, bytes) => {
          this.raw += this.decoder.decode(bytes, { stream: true });
          this.pending++;
          this.screen.write(bytes, () => this.pending--);
        },
      },
    });
    started.add(this.proc);
  }

  /** Type into the terminal (Enter is "\r", Tab "\t", Ctrl-D "\x04"). */
  type(keys: string): void {
    this.proc.terminal!.write(keys);
  }

  /** The screen's rows, right-trimmed. */
  async rows(): Promise<string[]> {
    while (this.pending > 0) await Bun.sleep(5); // let the parser catch up
    const b = this.screen.buffer.active;
    const out: string[] = [];
    for (let i = 0; i < this.screen.rows; i++) out.push((b.getLine(b.viewportY + i)?.translateToString(true) ?? "").trimEnd());
    return out;
  }

  /** The screen's rows without the empty ones at the bottom. */
  async lines(): Promise<string[]> {
    const r = await this.rows();
    while (r.length && r[r.length - 1] === "") r.pop();
    return r;
  }

  /** Cursor position on the screen (0-based column and row of the viewport). */
  cursor(): { x: number; y: number } {
    const b = this.screen.buffer.active;
    return { x: b.cursorX, y: b.cursorY };
  }

  /** Poll the screen until `check` passes (it may throw or return false), or fail with the screen. */
  async until(check: (lines: string[]) => boolean | void, what: string, ms = 5000): Promise<string[]> {
    const deadline = Date.now() + ms;
    let last: unknown;
    for (;;) {
      const lines = await this.lines();
      try {
        if (check(lines) !== false) return lines;
        last = null;
      } catch (e) {
        last = e;
      }
      if (Date.now() > deadline) {
        throw new Error(`timeout waiting for ${what}${last ? ` (${last})` : ""}; screen:\n${lines.join("\n")}`);
      }
      await Bun.sleep(25);
    }
  }

  /** Wait until some row equals `text` (or matches it); returns that row's index. */
  async waitForRow(text: string | RegExp, ms = 5000): Promise<number> {
    const match = (l: string) => (typeof text === "string" ? l === text : text.test(l));
    const lines = await this.until((ls) => ls.some(match), JSON.stringify(String(text)), ms);
    return lines.findLastIndex(match);
  }

  /** Wait until the last non-empty row is exactly `text` (the prompt line). */
  async waitForBottom(text: string, ms = 5000): Promise<string[]> {
    return this.until((ls) => ls[ls.length - 1] === text, `bottom row ${JSON.stringify(text)}`, ms);
  }

  /** Exit code, or "still running" after `ms`. */
  async exitCode(ms = 5000): Promise<number | "still running"> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"still running">((r) => (timer = setTimeout(() => r("still running"), ms)));
    const code = await Promise.race([this.proc.exited, late]);
    clearTimeout(timer);
    return code;
  }
}

/** Start ./client in a terminal. */
export function ptyClient(port: number, opts: { env?: Record<string, string>; args?: string[]; cols?: number; rows?: number } = {}): Pty {
  return new Pty([CLIENT_BIN, "127.0.0.1", String(port), ...(opts.args ?? [])], opts);
}

/** Log `user` in through the terminal, as a person types; resolves at the command prompt. */
export async function ptyLogin(c: Pty, user: string): Promise<void> {
  await c.waitForBottom("Username:");
  c.type(`${user}\r`);
  await c.waitForBottom("Password:");
  c.type(`${PASSWORDS[user]}\r`);
  await c.waitForRow(WELCOME);
  await c.waitForBottom(">");
}

/** Start ./client in a terminal and log `user` in; resolves at the command prompt. */
export async function ptyLoginClient(port: number, user: string, opts: Parameters<typeof ptyClient>[1] = {}): Promise<Pty> {
  const c = ptyClient(port, opts);
  await ptyLogin(c, user);
  return c;
}

/** SGR (colour/attribute) escape sequences. */
export const SGR = /\x1b\[[0-9;]*m/;

export function expectNoSgr(text: string): void {
  expect(text.match(SGR)?.[0] ?? "no colour codes").toBe("no colour codes");
}
