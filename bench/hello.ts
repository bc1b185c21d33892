/**
 * Startup baseline: a compiled hello-world that imports the same CLI packages
 * as ./client and ./server (cac, kleur), parses its arguments, prints one line and exits.
 */
import { cac } from "cac";
import kleur from "kleur";

const cli = cac("hello");
cli.option("--no-color", "No colours");
cli.help();
const parsed = cli.parse(process.argv, { run: false });
if (parsed.options.help) process.exit(0);
kleur.enabled = false;
console.log(kleur.bold(`hello ${cli.name}`));
// Exit at once, as ./client --version does (a natural exit costs Bun ~10 ms more here).
process.exit(0);
