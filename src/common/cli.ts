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

/** What `--help` shows beyond the options cac knows about. */
export type HelpSpec = {
  /** One line: what the program is. */
  summary: string;
  /** The usage line (the same one bad arguments print). */
  usage: string;
  /** Positional arguments: name and meaning. */
  args: [string, string][];
  /** Example command lines, each with what it does. */
  examples: [string, string][];
  /** Closing lines (where to read more). */
  notes?: string[];
};

/**
 * Replace cac's help (which lists the positional arguments as a "command" and
 * prints `(default: true)` for --no-* flags) with: summary, usage, arguments,
 * options (from the cac definitions), examples.
 */
export function setHelp(cli: CAC, spec: HelpSpec): void {
  cli.help(() => {
    const table = (rows: [string, string][]) => {
      const w = Math.max(...rows.map(([a]) => a.length));
      return rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`.trimEnd()).join("\n");
    };
    const options = [...(cli.commands[0]?.options ?? []), ...cli.globalCommand.options].map((o): [string, string] => {
      const def = o.config.default;
      const help = o.name === "help" ? "Show this help" : o.description;
      return [o.rawName, def === undefined || o.negated ? help : `${help} (default: ${def})`];
    });
    options.push(["-v, --version", "Show the version"]);
    const examples = spec.examples.map(([cmd, what]) => `  $ ${cmd}\n      ${what}`).join("\n");
    const sections = [
      { body: `${cli.name} ${VERSION}: ${spec.summary}` },
      { title: "Usage", body: `  ${spec.usage.replace(/^Usage: /, "")}` },
      { title: "Arguments", body: table(spec.args) },
      { title: "Options", body: table(options) },
      { title: "Examples", body: examples },
    ];
    if (spec.notes?.length) sections.push({ body: spec.notes.join("\n") });
    return sections;
  });
}

export { cac };
