/**
 * TLS for links: what a listener or a caller presents, and the check that runs in
 * Bun's `handshake` callback before a link is handed to its user.
 *
 * Certificates here are self-signed (the server's, each client's peer identity), so
 * Bun's own verification is switched off (`rejectUnauthorized: false`, always set
 * explicitly: NODE_TLS_REJECT_UNAUTHORIZED would change the default) and the
 * `verify` hook decides, from the fingerprint (Bun's `success`/`authorized` say
 * nothing useful about a self-signed certificate). Bun.connect does not check the
 * host name either: a caller that wants CA trust checks it in `verify`.
 */
import type { X509Certificate } from "node:crypto";
import { fingerprintOf } from "./fingerprint.ts";

/** What the other end showed during the handshake. */
export type PeerCert = {
  /** Its certificate's fingerprint, or null when it sent none. */
  fingerprint: string | null;
  x509: X509Certificate | null;
  /** Did the certificate chain verify against the system's certificate authorities? */
  authorized: boolean;
};

export type LinkTls = {
  /** Our key and certificate (PEM): required on a listener, optional for a caller (mutual TLS). */
  key?: string;
  cert?: string;
  /** Listener: ask the caller for its certificate (mutual TLS). */
  requestCert?: boolean;
  /** A handshake not finished within this many ms closes the connection (default TLS_HANDSHAKE_MS in link.ts). */
  handshakeMs?: number;
  /** Caller: the name to send in SNI (and to check the certificate against, in verify). */
  serverName?: string;
  /**
   * Runs once the handshake is done, before the link is handed on and before
   * anything is sent. Returns null to accept, or why the other end is refused:
   * the link is then closed with that reason and nothing crosses it.
   */
  verify(peer: PeerCert): string | null;
};

/** A caller whose far end does not speak TLS, or whose far end verify refused. */
export class TlsError extends Error {
  constructor(
    readonly code: "not_tls" | "refused",
    message: string,
  ) {
    super(message);
    this.name = "TlsError";
  }
}

// SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_TLSv1_2: TLS 1.3 only (both ends
// are ours; 1.3 saves a round trip and has only forward-secret AEAD suites).
const TLS13_ONLY = 0x04000000 | 0x10000000 | 0x08000000;

/** Bun's `tls` object for a listener or a caller. */
export function bunTls(t: LinkTls): Record<string, unknown> {
  return {
    ...(t.key !== undefined ? { key: t.key, cert: t.cert } : {}),
    ...(t.requestCert ? { requestCert: true } : {}),
    ...(t.serverName !== undefined ? { serverName: t.serverName } : {}),
    rejectUnauthorized: false,
    secureOptions: TLS13_ONLY,
  };
}

type TlsSocket = {
  authorized: boolean;
  getPeerX509Certificate(): X509Certificate | undefined | null;
};

/** The other end's certificate, as seen in `handshake`. */
export function peerCertOf(s: TlsSocket): PeerCert {
  let x509: X509Certificate | null = null;
  try {
    x509 = s.getPeerX509Certificate() ?? null;
  } catch {
    x509 = null; // an empty certificate (a caller that sent none)
  }
  const der = x509 ? new Uint8Array(x509.raw) : null;
  return { x509, fingerprint: der && der.byteLength > 0 ? fingerprintOf(der) : null, authorized: s.authorized === true };
}

/**
 * A failed handshake on the caller's side: EPROTO (wrong version number) means the
 * far end answered with something that is not TLS — a plain-TCP server.
 */
export function handshakeFailure(err: Error | null): TlsError {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === "EPROTO" || /WRONG_VERSION_NUMBER|wrong version/i.test(err?.message ?? ""))
    return new TlsError("not_tls", "does not speak TLS");
  return new TlsError("refused", `TLS handshake failed (${code ?? err?.message ?? "unknown"})`);
}

/**
 * Does the first byte a plain-TCP caller received look like a TLS record? A TLS
 * listener answers plain bytes with an alert record (0x15, e.g. `15 03 01 00 02 02 46`);
 * our frames start with a length whose first byte is 0 (frames are far below 16 MiB).
 */
export function looksLikeTls(firstByte: number): boolean {
  return firstByte === 0x15 || firstByte === 0x16;
}
