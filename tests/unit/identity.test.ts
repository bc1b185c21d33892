import { afterAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createIdentity,
  fingerprintOf,
  IdentityError,
  identityFileText,
  isFingerprint,
  loadCertAndKey,
  loadOrCreateIdentity,
  parseIdentity,
} from "../../src/net/identity.ts";

const dir = mkdtempSync(join(tmpdir(), "identity-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("fingerprints", () => {
  test("SHA256: and the unpadded base64 of the DER's SHA-256", () => {
    // SHA-256 of the empty string, base64: 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=
    expect(fingerprintOf(new Uint8Array())).toBe("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
    expect(isFingerprint(fingerprintOf(new Uint8Array([1, 2, 3])))).toBe(true);
    expect(isFingerprint("SHA256:abc")).toBe(false);
    expect(isFingerprint("MD5:" + "a".repeat(43))).toBe(false);
  });
});

describe("createIdentity", () => {
  test("a P-256 key and a certificate that node:crypto reads, with a matching fingerprint", async () => {
    const id = await createIdentity("termchat test");
    const cert = new X509Certificate(id.cert);
    expect(cert.subject).toContain("termchat test");
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(id.fingerprint).toBe(fingerprintOf(new Uint8Array(cert.raw)));
    expect(id.key).toStartWith("-----BEGIN PRIVATE KEY-----\n");
    expect(cert.checkPrivateKey((await import("node:crypto")).createPrivateKey(id.key))).toBe(true);
  });

  test("two identities differ", async () => {
    const [a, b] = await Promise.all([createIdentity("x"), createIdentity("x")]);
    expect(a.fingerprint).not.toBe(b.fingerprint);
  });

  test("a TLS server with it is seen by a client with that fingerprint", async () => {
    const id = await createIdentity("t");
    const srv = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      tls: { key: id.key, cert: id.cert },
      socket: { open() {}, data() {}, error() {} },
    });
    try {
      const seen = await new Promise<string>((resolve, reject) => {
        Bun.connect({
          hostname: "127.0.0.1",
          port: srv.port,
          tls: { rejectUnauthorized: false },
          socket: {
            handshake(s) {
              const c = s.getPeerX509Certificate();
              resolve(c ? fingerprintOf(new Uint8Array(c.raw)) : "none");
              s.end();
            },
            data() {},
            error(_s, e) {
              reject(e);
            },
          },
        }).catch(reject);
      });
      expect(seen).toBe(id.fingerprint);
    } finally {
      srv.stop(true);
    }
  });
});

describe("identity files", () => {
  test("created on first use with mode 0600, the same identity after", async () => {
    const path = join(dir, "server-identity.pem");
    const first = await loadOrCreateIdentity(path);
    expect(first.created).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const again = await loadOrCreateIdentity(path);
    expect(again.created).toBe(false);
    expect(again.identity).toEqual(first.identity);
  });

  test("a damaged file is an error naming it, and it is not overwritten", async () => {
    const path = join(dir, "broken.pem");
    writeFileSync(path, "not a pem\n");
    const err = await loadOrCreateIdentity(path).catch((e) => e);
    expect(err).toBeInstanceOf(IdentityError);
    expect(err.message).toBe(`${path} holds no private key`);
    expect(readFileSync(path, "utf8")).toBe("not a pem\n");
  });

  test("a file with a key but a broken certificate", async () => {
    const id = await createIdentity("t");
    const path = join(dir, "badcert.pem");
    writeFileSync(path, id.key + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    expect(() => parseIdentity(readFileSync(path, "utf8"), readFileSync(path, "utf8"), path)).toThrow(
      `${path}: the certificate cannot be read`,
    );
  });

  test("an operator's cert and key files, the first certificate of a chain fingerprinted", async () => {
    const leaf = await createIdentity("leaf");
    const other = await createIdentity("ca");
    const certPath = join(dir, "chain.pem");
    const keyPath = join(dir, "leaf.key");
    writeFileSync(certPath, leaf.cert + other.cert);
    writeFileSync(keyPath, leaf.key);
    const id = loadCertAndKey(certPath, keyPath);
    expect(id.fingerprint).toBe(leaf.fingerprint);
    expect(id.cert).toBe(leaf.cert + other.cert);
    expect(() => loadCertAndKey(join(dir, "nope.pem"), keyPath)).toThrow(`cannot read ${join(dir, "nope.pem")}`);
  });

  test("identityFileText round-trips through parseIdentity", async () => {
    const id = await createIdentity("t");
    const text = identityFileText(id);
    expect(parseIdentity(text, text, "x")).toEqual(id);
  });
});
