/**
 * Command-line plumbing both programs share: cac parsing with our exit codes
 * (bad arguments: one line + usage, exit 2), a plain `--version`, and integer checks.
 */
import { cac, type CAC } from "cac";
import pkg from "../../package.json" with { type: "json" };

export const VERSION: string = pkg.version;

export class UsageError extends Error {}

/** Exit with one clear line on stderr (and the usage line for bad arguments). */
export function fail(message: string, code: 1 | 2, usage?: string): never {
  process.stderr.write(`error: ${message}\n`);
  if (usage) process.stderr.write(`${usage}\n`);
  process.exit(code);
}

/** Parse a whole number in [min, max] or throw a UsageError naming the argument. */
export function intArg(name: string, v: unknown, min: number, max: number): number {
  const s = String(v ?? "");
  if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) {
    throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got "${s}"`);
  }
  return Number(s);
}

/**
 * Run a cac CLI with one default command. Returns the positional args and options,
 * or exits: 0 after --help/--version, 2 on bad arguments.
 */
export function parseCli(cli: CAC, argv: string[], usage: string): { args: string[]; options: Record<string, any> } {
  if (argv.slice(2).some((a) => a === "-v" || a === "--version")) {
    process.stdout.write(`${cli.name} ${VERSION}\n`);
    process.exit(0);
  }
  try {
    const parsed = cli.parse(argv, { run: false });
    if (parsed.options.help) process.exit(0);
    const cmd = cli.matchedCommand;
    if (!cmd) throw new UsageError("missing arguments");
    cmd.checkUnknownOptions();
    cmd.checkOptionValue();
    cmd.checkRequiredArgs();
    cmd.checkUnusedArgs();
    const n = cmd.args.length;
    return { args: parsed.args.slice(0, n).map(String), options: parsed.options };
  } catch (e) {
    fail((e as Error).message, 2, usage);
  }
}

export { cac };
