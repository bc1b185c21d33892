/**
 * A window's notice list (notice-batch.ts) as bytes, in the form each link reads
 * (JSON, or compact once version 3 is agreed): every notice encoded once per form,
 * one after the other in one buffer, so each recipient's run is a slice of the
 * same bytes — after a login storm's window a thousand links share one array
 * instead of each queueing a frame per notice.
 *
 * The list only grows while it is the current one. Bytes handed out are never
 * written again (a link may keep a slice until the kernel takes it): growing
 * copies into a new buffer, and old slices keep the old one.
 */
import type { Logger } from "../common/logger.ts";
import { encodeCompactServer } from "../protocol/compact.ts";
import { encodeMessage, MAX_SERVER_FRAME, type ServerMsg } from "../protocol/messages.ts";

type Encode = (msg: ServerMsg) => Uint8Array;

export class NoticeBytes {
  private readonly json: EncodedList;
  private readonly compact: EncodedList;

  constructor(
    readonly list: readonly ServerMsg[],
    log: Logger,
  ) {
    // A notice over the frame limit (a name of thousands of escaped characters) is left out.
    const checked = (encode: Encode) => (msg: ServerMsg) => {
      const bytes = encode(msg);
      if (bytes.byteLength - 4 <= MAX_SERVER_FRAME) return bytes;
      log.debug(`${msg.t} of ${bytes.byteLength} bytes does not fit a frame, not sent`);
      return new Uint8Array(0);
    };
    this.json = new EncodedList(checked(encodeMessage));
    this.compact = new EncodedList(checked((m) => encodeCompactServer(m) ?? encodeMessage(m)));
  }

  /** The frames of list[from] … list[to - 1] in the form a link reads (it may be empty). */
  slice(compact: boolean, from: number, to: number): Uint8Array {
    return (compact ? this.compact : this.json).slice(this.list, from, to);
  }
}

/** One form of a list, encoded as far as asked for. */
class EncodedList {
  private buf = new Uint8Array(4096);
  /** starts[i]: where notice i begins; the last entry: where the encoded ones end. */
  private readonly starts = [0];
  /** The last slice handed out: most recipients of a window get the same run. */
  private last = { from: -1, to: -1, bytes: new Uint8Array(0) };

  constructor(private readonly encode: Encode) {}

  slice(list: readonly ServerMsg[], from: number, to: number): Uint8Array {
    for (let i = this.starts.length - 1; i < to; i++) this.append(this.encode(list[i]!));
    const last = this.last;
    if (last.from === from && last.to === to) return last.bytes;
    const bytes = this.buf.subarray(this.starts[from]!, this.starts[to]!);
    this.last = { from, to, bytes };
    return bytes;
  }

  private append(frame: Uint8Array): void {
    const at = this.starts[this.starts.length - 1]!;
    const end = at + frame.byteLength;
    if (end > this.buf.byteLength) {
      const bigger = new Uint8Array(Math.max(end, this.buf.byteLength * 2));
      bigger.set(this.buf.subarray(0, at));
      this.buf = bigger;
    }
    this.buf.set(frame, at);
    this.starts.push(end);
  }
}
