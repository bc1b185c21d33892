/**
 * TLS identities: a private key with its certificate, and the fingerprint people
 * compare. The server keeps one in a file (created on first start, reused after, so
 * its fingerprint never changes); every client makes a fresh one in memory for its
 * peer links at each run.
 *
 * node:crypto parses X.509 but cannot build a certificate, so certificates are
 * made with @peculiar/x509 over WebCrypto (a maintained library; an ASN.1 encoder
 * of our own would be the riskiest code in the project). It relies on the
 * reflect-metadata polyfill being loaded first.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { X509Certificate } from "node:crypto";
import { fingerprintOf } from "./fingerprint.ts";

export { fingerprintOf, isFingerprint } from "./fingerprint.ts";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";

export type Identity = {
  /** PEM private key (PKCS#8). */
  key: string;
  /** PEM certificate (the first one is ours; a chain may follow). */
  cert: string;
  /** `SHA256:<base64 of the SHA-256 of the certificate's DER, unpadded>`, as SSH prints key fingerprints. */
  fingerprint: string;
};

export class IdentityError extends Error {}

/**
 * P-256 ECDSA: a TLS 1.3 handshake with it cost 0.46 ms on loopback against
 * 1.07 ms for RSA-2048 (measured with Bun 1.4.5), a key is made in a few ms, and
 * every TLS stack speaks it.
 */
const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 86_400_000;

/** A new key and self-signed certificate (valid from yesterday for 20 years: TOFU pins it, nothing checks dates). */
export async function createIdentity(commonName: string): Promise<Identity> {
  const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString("hex").replace(/^[89a-f]/, "1"),
    name: `CN=${commonName.replace(/[,=+<>#;"\\]/g, "_")}`,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 20 * 365 * DAY),
    signingAlgorithm: ALG,
    keys,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
  });
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return { key: pem("PRIVATE KEY", pkcs8), cert: cert.toString("pem") + "\n", fingerprint: fingerprintOf(new Uint8Array(cert.rawData)) };
}

function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64").match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----\n?/g;

/** The PEM blocks of a text, by label. */
function pemBlocks(text: string): { label: string; text: string }[] {
  return [...text.matchAll(BLOCK)].map((m) => ({ label: m[1]!, text: m[0].endsWith("\n") ? m[0] : m[0] + "\n" }));
}

/** Key and certificate(s) from PEM text; throws IdentityError naming what is missing or broken. */
export function parseIdentity(keyText: string, certText: string, where: string): Identity {
  const key = pemBlocks(keyText).find((b) => b.label.endsWith("PRIVATE KEY"));
  const certs = pemBlocks(certText).filter((b) => b.label === "CERTIFICATE");
  if (!key) throw new IdentityError(`${where} holds no private key`);
  if (certs.length === 0) throw new IdentityError(`${where} holds no certificate`);
  let der: Uint8Array;
  try {
    der = new Uint8Array(new X509Certificate(certs[0]!.text).raw);
  } catch {
    throw new IdentityError(`${where}: the certificate cannot be read`);
  }
  return { key: key.text, cert: certs.map((c) => c.text).join(""), fingerprint: fingerprintOf(der) };
}

/** The identity file's text: the private key, then the certificate. */
export function identityFileText(id: Identity): string {
  return id.key + id.cert;
}

/**
 * The server's identity in `path`: read it, or create it (mode 0600, never
 * overwriting a file that appeared meanwhile) on first start.
 */
export async function loadOrCreateIdentity(path: string): Promise<{ identity: Identity; created: boolean }> {
  const existing = readIfThere(path);
  if (existing !== null) return { identity: parseIdentity(existing, existing, path), created: false };
  const identity = await createIdentity("termchat server");
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return loadOrCreateIdentity(path);
    throw new IdentityError(`cannot create ${path} (${code ?? (e as Error).message})`);
  }
  try {
    writeSync(fd, identityFileText(identity));
  } finally {
    closeSync(fd);
  }
  return { identity, created: true };
}

/** An operator's certificate and key (e.g. from a CA). */
export function loadCertAndKey(certPath: string, keyPath: string): Identity {
  const cert = readIfThere(certPath);
  if (cert === null) throw new IdentityError(`cannot read ${certPath}`);
  const key = readIfThere(keyPath);
  if (key === null) throw new IdentityError(`cannot read ${keyPath}`);
  return parseIdentity(key, cert, `${keyPath} / ${certPath}`);
}

function readIfThere(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    throw new IdentityError(`cannot read ${path} (${code ?? (e as Error).message})`);
  }
}
