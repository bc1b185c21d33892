/**
 * Certificate fingerprints, as people compare them (kept apart from identity.ts so
 * that checking one does not load the certificate-making library).
 */
import { createHash } from "node:crypto";

/** The fingerprint of a DER certificate. */
export function fingerprintOf(der: Uint8Array): string {
  return "SHA256:" + createHash("sha256").update(der).digest("base64").replace(/=+$/, "");
}

/** Is `s` written like a fingerprint (`SHA256:` and 43 base64 characters)? */
export function isFingerprint(s: string): boolean {
  return /^SHA256:[A-Za-z0-9+/]{43}$/.test(s);
}
