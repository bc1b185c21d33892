/**
 * The startup floor: the hello-world (hello.ts) with node:readline loaded first,
 * as ./client has it. In a compiled Bun 1.4 binary the first use of
 * process.stdout costs ~10 ms less once node:readline is loaded (measured:
 * 14 ms → 7 ms), so this, not hello.ts, is the like-for-like baseline.
 */
import "node:readline";
import "./hello.ts";
