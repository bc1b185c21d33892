/**
 * Output written once per turn: the lines printed while one piece of work runs
 * (say, the messages of one read from the server) are joined and go out together
 * when it is done (a microtask), not one by one. On a pipe that is one write
 * instead of one per line; on a terminal one erase and redraw of the input area
 * instead of one per line. Measured with bench/client-receive.ts: a write to
 * stdout per message was 39% of the client's time receiving messages on a pipe.
 *
 * Order is kept: whatever else draws must flush() first, and flush() runs before
 * leaving the process.
 */
export class TurnWriter {
  private held = "";

  constructor(private readonly out: (text: string) => void) {}

  write(text: string): void {
    if (text === "") return;
    if (this.held === "") queueMicrotask(this.flush);
    this.held += text;
  }

  /** Write out what is held now (an arrow: handed to queueMicrotask and to exit). */
  readonly flush = (): void => {
    if (this.held === "") return;
    const text = this.held;
    this.held = ""; // before out(): out may draw, and drawing flushes first
    this.out(text);
  };
}
