/**
 * Opening links: Bun's socket handlers, listenLinks and connectLink, plain or over
 * TLS (tls.ts). The Link itself — framing and the write queue — is in framed-link.ts.
 */
import type { Socket, TCPSocketListener } from "bun";
import { Link, type LinkEvents, type LinkOptions, type SockData } from "./framed-link.ts";
import { writePolicy } from "./socket-writes.ts";
import { bunTls, handshakeFailure, looksLikeTls, peerCertOf, TlsError, type LinkTls } from "./tls.ts";

export { Link, type LinkEvents, type LinkOptions } from "./framed-link.ts";
export { TlsError, type LinkTls, type PeerCert } from "./tls.ts";

/** A TLS handshake not finished by then (a silent or stalling peer) drops the connection. */
export const TLS_HANDSHAKE_MS = 10_000;

/** Why a plain-TCP caller's link closed when the far end answered in TLS. */
export const REQUIRES_TLS = "the far end requires TLS";

/**
 * `ready` hands the link on: at `open` for plain TCP; with TLS only after the
 * handshake and `tls.verify` accepted the other end (Bun fires `open` before the
 * handshake), so nothing is sent or read before the check. `refused` reports a
 * link that never became ready.
 */
function handlers(
  opts: LinkOptions,
  ready: (link: Link) => void,
  tls?: LinkTls,
  refused: (e: Error) => void = () => {},
  plainCaller = false,
) {
  const policy = writePolicy(opts);
  return {
    open(s: Socket<SockData>) {
      s.setNoDelay(true);
      const link = new Link(s, opts, policy);
      if (tls) return holdForHandshake(s, link, tls.handshakeMs ?? TLS_HANDSHAKE_MS, refused);
      // A plain caller looks at the first byte it gets: a TLS server answers in TLS.
      s.data = { link, sniff: plainCaller };
      ready(link);
    },
    handshake(s: Socket<SockData>, _success: boolean, err: Error | null) {
      if (tls) settleHandshake(s, tls, err, ready, refused);
    },
    data(s: Socket<SockData>, chunk: Uint8Array) {
      if (s.data.sniff && chunk.byteLength > 0) {
        s.data.sniff = false;
        if (looksLikeTls(chunk[0]!)) return s.data.link?.destroy(REQUIRES_TLS);
      }
      s.data.link?.onData(chunk);
    },
    drain(s: Socket<SockData>) {
      s.data.link?.onDrain();
    },
    end(s: Socket<SockData>) {
      // Peer sent FIN: finish our side too.
      if (s.data?.pending) return s.data.pending.destroy("closed during the TLS handshake");
      s.data.link?.end();
    },
    close(s: Socket<SockData>, err?: Error) {
      const why = err ? `connection lost (${(err as any).code ?? err.message})` : "closed by peer";
      stopHandshakeTimer(s);
      if (s.data?.pending) refused(err ? handshakeFailure(err) : new Error(why));
      (s.data?.link ?? s.data?.pending)?.onSocketClosed(why);
    },
    error(s: Socket<SockData>, err: Error) {
      if (s.data?.pending) refused(handshakeFailure(err));
      (s.data?.link ?? s.data?.pending)?.destroy(`socket error: ${err.message}`);
    },
  };
}

/**
 * A TLS link waits for its handshake. Until then it belongs to no one (no pre-login
 * timer, no admission count): a peer that never finishes the handshake is dropped here.
 */
function holdForHandshake(s: Socket<SockData>, link: Link, ms: number, refused: (e: Error) => void): void {
  const t = setTimeout(() => {
    if (s.data?.pending !== link) return;
    refused(new TlsError("refused", "TLS handshake timed out"));
    link.destroy("TLS handshake timed out");
  }, ms);
  (t as any).unref?.();
  // Cleared once the handshake settles or the socket closes: a login storm must not
  // leave one live runtime timer per connection for the whole limit.
  s.data = { pending: link, handshakeTimer: t };
}

function stopHandshakeTimer(s: Socket<SockData>): void {
  if (s.data?.handshakeTimer === undefined) return;
  clearTimeout(s.data.handshakeTimer);
  s.data.handshakeTimer = undefined;
}

/** The handshake is done: let `tls.verify` judge the other end's certificate, then hand the link on or close it. */
function settleHandshake(s: Socket<SockData>, tls: LinkTls, err: Error | null, ready: (link: Link) => void, refused: (e: Error) => void): void {
  const link = s.data?.pending;
  if (!link) return;
  stopHandshakeTimer(s);
  s.data.pending = undefined;
  const peer = peerCertOf(s as any);
  // A far end that is not TLS at all fails before any certificate is seen.
  const notTls = peer.x509 === null && err && (err as NodeJS.ErrnoException).code === "EPROTO" ? handshakeFailure(err) : null;
  const refusal = notTls ? notTls.message : tls.verify(peer);
  if (refusal !== null) {
    refused(notTls ?? new TlsError("refused", refusal));
    link.destroy(refusal);
    return;
  }
  link.peerFingerprint = peer.fingerprint;
  s.data.link = link;
  ready(link);
}

/** Listen for framed links, over TLS when `tls` is given. `onLink` must attach() synchronously. */
export function listenLinks(
  hostname: string,
  port: number,
  opts: LinkOptions,
  onLink: (link: Link) => void,
  tls?: LinkTls,
): TCPSocketListener<SockData> {
  return Bun.listen<SockData>({
    hostname,
    port,
    socket: handlers(opts, onLink, tls),
    ...(tls ? { tls: bunTls(tls) as any } : {}),
  });
}

/**
 * Connect a framed link, over TLS when `tls` is given. Rejects with the OS error
 * (e.g. ECONNREFUSED) or, with TLS, a TlsError (`not_tls`: the far end answered
 * in plain TCP; `refused`: verify refused its certificate) — resolving only once
 * the far end is accepted.
 */
export function connectLink(
  hostname: string,
  port: number,
  opts: LinkOptions,
  events: LinkEvents,
  tls?: LinkTls,
): Promise<Link> {
  return new Promise<Link>((resolve, reject) => {
    const h = handlers(
      opts,
      (link) => {
        link.attach(events);
        resolve(link);
      },
      tls,
      reject,
      !tls,
    );
    Bun.connect<SockData>({
      hostname,
      port,
      socket: { ...h, connectError() {} },
      data: {},
      ...(tls ? { tls: bunTls(tls) as any } : {}),
    }).catch(reject);
  });
}
