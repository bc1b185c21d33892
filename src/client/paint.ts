/**
 * Colours per output style (docs/terminal.md): only the terminal calls this, and only
 * when colour is on (a terminal, no --no-color, no NO_COLOR).
 */
import kleur from "kleur";
import type { Style } from "./output.ts";

export function paint(text: string, style: Style): string {
  switch (style) {
    case "plain":
      return text;
    case "chat": {
      // The sender's name stands out; the text stays plain.
      const i = text.indexOf(": ");
      return i < 0 ? text : kleur.bold().cyan(text.slice(0, i)) + text.slice(i);
    }
    case "private": {
      const i = text.indexOf(": ");
      return i < 0 ? kleur.magenta(text) : kleur.bold().magenta(text.slice(0, i)) + kleur.magenta(text.slice(i));
    }
    case "error":
      return kleur.red(text);
    case "notice":
      return kleur.yellow(text);
    case "system":
      return kleur.green(text);
    case "progress":
      return kleur.cyan(text);
  }
}
