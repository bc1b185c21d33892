/**
 * Output to a pipe, written once per turn: the lines printed while one piece of
 * work runs (say, the messages of one read from the server) are joined and go out
 * in one write when it is done (a microtask), not one write each. Measured with
 * bench/client-receive.ts: a write to stdout per message was 39% of the client's
 * time receiving messages.
 *
 * Order is kept: everything written goes through here, in order; flush() writes
 * out what is held at once (before leaving the process).
 */
export interface Sink {
  write(text: string): unknown;
}

export class TurnWriter {
  private held = "";

  constructor(private readonly out: Sink) {}

  write(text: string): void {
    if (text === "") return;
    if (this.held === "") queueMicrotask(this.flush);
    this.held += text;
  }

  /** Write out what is held now (an arrow: handed to queueMicrotask and to exit). */
  readonly flush = (): void => {
    const text = this.held;
    this.held = "";
    if (text !== "") this.out.write(text);
  };
}
