/**
 * One client connection as the server's I/O shell sees it: its link, whether it
 * agreed on version 3, and the link's events. The events are this object's
 * methods, not closures made per link: an idle server holds one of these per
 * connection, and three closures with their scope cost more than the record
 * itself (measured with heap stats: ~150 bytes per connection).
 */
import type { Logger } from "../common/logger.ts";
import type { Link, LinkEvents } from "../net/link.ts";
import { decodeClientFrame } from "../protocol/compact.ts";
import type { Frame } from "../protocol/frame.ts";
import type { Hub } from "./hub.ts";

/** What every Conn of a server shares: one object per server. */
export type ConnHost = {
  readonly hub: Hub;
  readonly log: Logger;
  /** The link of session `sid` closed: it no longer counts against the pre-login caps (the hub is told separately). */
  forget(sid: number): void;
};

export class Conn implements LinkEvents {
  /** Version 3 agreed: compact frames (protocol/compact.ts) both ways. */
  compact = false;

  constructor(
    private readonly host: ConnHost,
    readonly sid: number,
    readonly link: Link,
  ) {}

  frame(f: Frame): void {
    const { hub, log } = this.host;
    // Once the hub has let go of a session (drop → end()), what the client
    // still sends is ignored: e.g. the rest of a pipelined login flood.
    if (!this.link.isOpen) return;
    try {
      const msg = decodeClientFrame(f, this.compact);
      if (typeof msg === "string") return hub.violation(this.sid, msg);
      hub.receive(this.sid, msg);
    } catch (e) {
      // A broken invariant is a bug: log it, drop this connection, serve the rest.
      log.debug(`session ${this.sid}: internal error: ${(e as Error).stack ?? e}`);
      this.link.destroy("internal error");
    }
  }

  /** The byte stream broke (oversized frame, zero length, unknown kind): say why, then close. */
  bad(reason: string): void {
    this.host.hub.violation(this.sid, reason);
    this.link.end(); // (the hub has already asked for it; this holds even if it had not)
  }

  close(reason: string): void {
    const { hub, log } = this.host;
    const sid = this.sid;
    log.debug(`session ${sid}: link closed: ${reason}`);
    this.host.forget(sid);
    // A link can close inside a hub call (a send that overflows a client that
    // stopped reading); tell the hub afterwards, never in the middle of a rule.
    queueMicrotask(() => {
      try {
        hub.disconnect(sid);
      } catch (e) {
        log.debug(`session ${sid}: internal error on disconnect: ${(e as Error).stack ?? e}`);
      }
    });
  }
}
