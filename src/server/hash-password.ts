/**
 * `./server --hash-password`: read one password from stdin (not echoed on a
 * terminal), print its argon2id hash — a line's second field in the credentials file.
 */

/** Read one line from stdin; on a terminal, with echo off. */
async function readSecretLine(): Promise<string | null> {
  const stdin = process.stdin;
  if (stdin.isTTY) {
    process.stderr.write("Password: ");
    stdin.setRawMode(true);
  }
  let text = "";
  try {
    for await (const chunk of stdin) {
      text += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
      if (stdin.isTTY && text.includes("\u0003")) return null; // Ctrl-C
      const end = text.search(/[\r\n\u0004]/);
      if (end >= 0) return text.slice(0, end);
    }
  } finally {
    if (stdin.isTTY) {
      stdin.setRawMode(false);
      process.stderr.write("\n");
    }
    stdin.pause();
  }
  return text.length > 0 ? text : null;
}

export async function hashPasswordAndExit(): Promise<never> {
  const pass = await readSecretLine();
  if (pass === null || pass.length === 0) {
    process.stderr.write("server: no password given on stdin\n");
    process.exit(1);
  }
  if (/\s/.test(pass)) {
    // A credentials line is `username password`: a password with a space could never be typed in as one.
    process.stderr.write("server: a password cannot contain spaces\n");
    process.exit(1);
  }
  process.stdout.write((await Bun.password.hash(pass, { algorithm: "argon2id" })) + "\n");
  process.exit(0);
}
