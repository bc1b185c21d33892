/**
 * `./server --hash-password`: read one password from stdin (not echoed on a
 * terminal), print its argon2id hash — a line's second field in the credentials file.
 */

/**
 * What typing has made of the line so far: the text, and whether it is finished
 * (Enter, Ctrl-D) or abandoned (Ctrl-C). On a terminal in raw mode, Backspace
 * arrives as a character: it removes the last one, as the user expects.
 */
export function typeInto(text: string, input: string): { text: string; done: boolean; cancelled: boolean } {
  for (const ch of input) {
    if (ch === "\u0003") return { text, done: true, cancelled: true };
    if (ch === "\r" || ch === "\n" || ch === "\u0004") return { text, done: true, cancelled: false };
    if (ch === "\u007f" || ch === "\b") text = [...text].slice(0, -1).join("");
    else text += ch;
  }
  return { text, done: false, cancelled: false };
}

/** Read one line from stdin; on a terminal, with echo off. Null: nothing, or Ctrl-C. */
async function readSecretLine(): Promise<string | null> {
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  if (tty) {
    process.stderr.write("Password: ");
    stdin.setRawMode(true);
  }
  let state = { text: "", done: false, cancelled: false };
  try {
    for await (const chunk of stdin) {
      state = typeInto(state.text, typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk));
      if (state.done) break;
    }
  } finally {
    if (tty) {
      stdin.setRawMode(false);
      process.stderr.write("\n");
    }
    stdin.pause();
  }
  return state.cancelled || state.text.length === 0 ? null : state.text;
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
