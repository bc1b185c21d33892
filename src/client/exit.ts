/** Leaving the process without losing output. */

/** Writes out output held back to go out in one write (the terminal's lines of this turn). */
let flushHeld: (() => void) | null = null;

/** The terminal's way to write out what it holds; exitAfterFlush calls it first. */
export function onExitFlush(flush: () => void): void {
  flushHeld = flush;
}

/** Write everything out, then exit (process.exit alone can cut piped output). */
export function exitAfterFlush(code: number): void {
  // A last resort if stdout never drains (a stuck pipe): this is process teardown, not
  // a client timer, so it stays on the runtime's own setTimeout and does not hold the loop.
  setTimeout(() => process.exit(code), 1000).unref?.();
  try {
    flushHeld?.();
    process.stdout.write("", () => process.exit(code));
  } catch {
    process.exit(code); // stdout is gone (a closed terminal): nothing left to flush
  }
}
