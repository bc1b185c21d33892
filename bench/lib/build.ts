/**
 * Compile the bench's own programs (null relay, startup hello-world) exactly as
 * scripts/build.ts compiles ./server and ./client, so they compare like for like.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");

export function compile(entry: string, outfile: string): void {
  const hostTarget = process.arch === "x64" && process.platform === "linux" ? ["--target=bun-linux-x64-baseline"] : [];
  const r = Bun.spawnSync(
    [
      process.execPath, "build", "--compile", "--minify", "--sourcemap", "--bytecode", "--format=esm",
      "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig", ...hostTarget,
      join(ROOT, entry), "--outfile", outfile,
    ],
    { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
  );
  if (r.exitCode !== 0) throw new Error(`cannot compile ${entry}: ${r.stderr.toString()}${r.stdout.toString()}`);
  rmSync(`${outfile}.map`, { force: true });
}

/** Build the null relay and the hello-worlds into dir; returns their paths. */
export function buildBenchPrograms(dir: string): { nullRelay: string; hello: string; helloReadline: string } {
  const out = { nullRelay: join(dir, "null-relay"), hello: join(dir, "hello"), helloReadline: join(dir, "hello-readline") };
  compile("bench/null-relay.ts", out.nullRelay);
  compile("bench/hello.ts", out.hello);
  compile("bench/hello-readline.ts", out.helloReadline);
  return out;
}
