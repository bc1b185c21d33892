/**
 * A certificate authority for tests: a CA certificate and server certificates it
 * signs, with the names (IP addresses or DNS names) a test chooses. A client given
 * the CA through NODE_EXTRA_CA_CERTS then verifies those certificates as it would
 * one from a public CA.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 86_400_000;
const pem = (label: string, der: ArrayBuffer) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der).toString("base64").match(/.{1,64}/g)!.join("\n")}\n-----END ${label}-----\n`;

export type TestCa = {
  /** The CA certificate (PEM), for NODE_EXTRA_CA_CERTS. */
  cert: string;
  /** A server certificate for these names, signed by the CA: PEM certificate and key. */
  issue(names: { ip?: readonly string[]; dns?: readonly string[] }): Promise<{ cert: string; key: string }>;
};

export async function makeTestCa(): Promise<TestCa> {
  const caKeys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=termchat test CA",
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 30 * DAY),
    signingAlgorithm: ALG,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  let serial = 2;
  return {
    cert: ca.toString("pem") + "\n",
    async issue(names) {
      const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
      const san = [...(names.ip ?? []).map((value) => ({ type: "ip" as const, value })), ...(names.dns ?? []).map((value) => ({ type: "dns" as const, value }))];
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: String(serial++).padStart(2, "0"),
        subject: "CN=termchat test server",
        issuer: ca.subject,
        notBefore: new Date(Date.now() - DAY),
        notAfter: new Date(Date.now() + 30 * DAY),
        signingAlgorithm: ALG,
        publicKey: keys.publicKey,
        signingKey: caKeys.privateKey,
        extensions: [
          new x509.SubjectAlternativeNameExtension(san),
          new x509.BasicConstraintsExtension(false),
          await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
          new x509.ExtendedKeyUsageExtension(["1.3.6.1.5.5.7.3.1"]), // serverAuth
        ],
      });
      return { cert: leaf.toString("pem") + "\n", key: pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", keys.privateKey)) };
    },
  };
}
