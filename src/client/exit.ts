/** Leaving the process without losing output. */

/** Write everything out, then exit (process.exit alone can cut piped output). */
export function exitAfterFlush(code: number): void {
  // A last resort if stdout never drains (a stuck pipe): this is process teardown, not
  // a client timer, so it stays on the runtime's own setTimeout and does not hold the loop.
  setTimeout(() => process.exit(code), 1000).unref?.();
  try {
    process.stdout.write("", () => process.exit(code));
  } catch {
    process.exit(code); // stdout is gone (a closed terminal): nothing left to flush
  }
}
