/**
 * One authenticated direct link to another user, and what a peer link is made of.
 */
import { encodeMessage, MAX_PEER_FRAME, type PeerMsg } from "../../protocol/messages.ts";
import type { Link } from "../../net/link.ts";

/**
 * Peer links: frames up to a chunk piece; a 4 MiB queue before send() asks the
 * sender to wait; DATA payloads handed on in the pieces the socket reads bring.
 */
export const PEER_LINK = { maxFrame: MAX_PEER_FRAME, highWater: 4 << 20, maxQueued: 64 << 20, streamData: true };

/** What the peer code uses of a Link (a fake in tests implements just this). */
export type PeerLink = Pick<
  Link,
  "attach" | "send" | "end" | "destroy" | "isOpen" | "isClosed" | "remoteAddress" | "pause" | "resume" | "drained" | "sentBytes" | "queuedBytes" | "peerFingerprint"
>;

export class PeerConn {
  /** Called once when the link is gone (file transfer fails its open requests). */
  readonly onGone: ((conn: PeerConn) => void)[] = [];

  constructor(
    readonly user: string,
    readonly link: PeerLink,
  ) {}

  send(msg: PeerMsg): boolean {
    return this.link.send(encodeMessage(msg));
  }
}
