/**
 * Strip what could paint on a terminal: whole ANSI escape sequences (CSI, OSC and
 * two-byte ESC sequences, 7- and 8-bit), then any remaining C0 control (including
 * CR, LF, TAB), DEL, C1 control and bidi override. Applied to every text shown that came from
 * someone else: message texts, user names, file names.
 */
const ANSI =
  // OSC ... BEL/ST | CSI params final | other ESC x
  /(?:\u001b\]|\u009d)[^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)?|(?:\u001b\[|\u009b)[0-?]*[ -/]*[@-~]?|\u001b[ -~]?/g;
// C0, DEL, C1, and the bidirectional overrides/isolates that reorder what follows them.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
/**
 * The same set, to test for: every ANSI sequence starts with one of them (ESC, or
 * C1 CSI/OSC), so text without any is returned as it is. Almost every text shown
 * is such, and one test costs less than the two replaces (each a pass and a copy).
 */
const ANY_CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

export function stripControls(s: string): string {
  if (!ANY_CONTROL.test(s)) return s;
  return s.replace(ANSI, "").replace(CONTROL, "");
}
