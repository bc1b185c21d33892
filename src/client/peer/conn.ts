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

/**
 * The frame limit on our listener's links until the caller is authenticated: a
 * peer_hello (a user name and a token) fits many times over, and an unknown caller
 * cannot make us hold a 1 MiB frame. Raised to MAX_PEER_FRAME at peer_welcome.
 */
export const PEER_HELLO_FRAME = 4096;
/** Our listener's link options: PEER_LINK with the small limit of the handshake. */
export const PEER_LISTEN_LINK = { ...PEER_LINK, maxFrame: PEER_HELLO_FRAME };
/**
 * Most links on our listener not yet authenticated; beyond it a new connection is
 * closed at once. Each costs at most PEER_HELLO_FRAME bytes of frame and a timer
 * for PEER_HANDSHAKE_MS; real calls finish in one round trip to the server.
 */
export const MAX_PENDING_HANDSHAKES = 16;

/** What the peer code uses of a Link (a fake in tests implements just this). */
export type PeerLink = Pick<
  Link,
  "attach" | "setMaxFrame" | "send" | "end" | "destroy" | "isOpen" | "isClosed" | "remoteAddress" | "pause" | "resume" | "drained" | "sentBytes" | "queuedBytes" | "peerFingerprint"
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
