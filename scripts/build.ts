/**
 * Compile ./server and ./client with `bun build --compile`.
 *   bun scripts/build.ts            host build (x64 baseline floor: SSE4.2, no AVX2 needed)
 *   bun scripts/build.ts --release  also linux-arm64 and macOS (x64, arm64) into dist/, with SHA256SUMS
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

const root = join(import.meta.dir, "..");
const entries = { server: "src/server/main.ts", client: "src/client/main.ts" } as const;
const release = process.argv.includes("--release");
const outIdx = process.argv.indexOf("--outdir");
const outDir = outIdx > 0 ? process.argv[outIdx + 1]! : root;

function compile(entry: string, outfile: string, target?: string): void {
  const args = [
    process.execPath, "build", "--compile", "--minify", "--sourcemap", "--bytecode", "--format=esm",
    "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig",
    ...(target ? [`--target=${target}`] : []),
    join(root, entry), "--outfile", outfile,
  ];
  const r = Bun.spawnSync(args, { cwd: root, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) {
    process.stderr.write(r.stderr.toString() + r.stdout.toString());
    console.error(`build failed: ${entry}${target ? ` for ${target}` : ""}`);
    process.exit(1);
  }
  rmSync(`${outfile}.map`, { force: true }); // the map is embedded; the file is not needed
}

const started = performance.now();
// On x64 the host binary is the baseline binary: Bun ships one x64 build that
// targets SSE4.2 and picks AVX2/AVX-512 code at run time (the downloaded
// -baseline binary compared byte-identical to the host bun with cmp, Bun 1.4.5).
const hostTarget = process.arch === "x64" && process.platform === "linux" ? "bun-linux-x64-baseline" : undefined;
for (const [name, entry] of Object.entries(entries)) compile(entry, join(outDir, name), hostTarget);
console.log(`built ${outDir === root ? "./server and ./client" : `${outDir}/server and client`} in ${((performance.now() - started) / 1000).toFixed(1)} s`);

if (release) {
  const dist = join(root, "dist");
  mkdirSync(dist, { recursive: true });
  const targets = ["bun-linux-x64-baseline", "bun-linux-arm64", "bun-darwin-x64", "bun-darwin-arm64"];
  const sums: string[] = [];
  for (const target of targets) {
    for (const [name, entry] of Object.entries(entries)) {
      const out = join(dist, `${name}-${target.replace(/^bun-/, "")}`);
      compile(entry, out, target);
      sums.push(`${createHash("sha256").update(readFileSync(out)).digest("hex")}  ${basename(out)}`);
      console.log(`built dist/${basename(out)}`);
    }
  }
  writeFileSync(join(dist, "SHA256SUMS"), sums.join("\n") + "\n");
  console.log("wrote dist/SHA256SUMS");
}
