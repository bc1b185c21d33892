/**
 * What bunTls (src/net/tls.ts) makes two ends agree on: TLS 1.3 only, and a TLS 1.3
 * AEAD suite. Bun (BoringSSL) cannot be told which TLS 1.3 suite to use (`ciphers`
 * only covers TLS 1.2 and earlier); it prefers AES-128-GCM on a CPU with AES
 * instructions and ChaCha20-Poly1305 elsewhere, so a peer link never pays for
 * AES-256-GCM (docs/security.md; bench/README-transfer.md measured the cost).
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { TCPSocketListener } from "bun";
import { createIdentity } from "../../src/net/identity.ts";
import { bunTls } from "../../src/net/tls.ts";

type Seen = { version: string; name: string } | { error: string };
// SSL_OP_NO_TLSv1_3: an end that speaks TLS 1.2 at most.
const NO_TLS13 = 0x20000000;
const listeners: TCPSocketListener<unknown>[] = [];

afterEach(() => {
  for (const l of listeners.splice(0)) l.stop(true);
});

/** Handshake a listener and a caller with these tls options; what the caller saw. */
function handshake(server: Record<string, unknown>, caller: Record<string, unknown>): Promise<Seen> {
  return new Promise<Seen>((resolve) => {
    const l = Bun.listen({ hostname: "127.0.0.1", port: 0, tls: server as any, socket: { data() {}, error() {} } });
    listeners.push(l);
    Bun.connect({
      hostname: "127.0.0.1",
      port: l.port,
      tls: caller as any,
      socket: {
        handshake(s, _ok, err) {
          // `err` also reports the self-signed certificate, which the peer links judge by
          // fingerprint instead: a finished handshake is one with a suite agreed.
          let c: { version?: string; name?: string } | null = null;
          try {
            c = (s as unknown as { getCipher(): typeof c }).getCipher();
          } catch {}
          resolve(c?.version && c.name ? { version: c.version, name: c.name } : { error: err?.message ?? "no suite agreed" });
          s.end();
        },
        data() {},
        close() {
          resolve({ error: "closed" });
        },
        error(_s, e) {
          resolve({ error: e.message });
        },
      },
    }).catch((e: Error) => resolve({ error: e.message }));
  });
}

describe("peer link TLS settings (bunTls)", () => {
  test("two ends agree on TLS 1.3 with AES-128-GCM or ChaCha20-Poly1305, never the costlier AES-256-GCM", async () => {
    const [a, b] = await Promise.all([createIdentity("a"), createIdentity("b")]);
    const seen = await handshake(
      bunTls({ key: a.key, cert: a.cert, requestCert: true, verify: () => null }),
      bunTls({ key: b.key, cert: b.cert, verify: () => null }),
    );
    expect(seen).toMatchObject({ version: "TLSv1.3" });
    expect(["TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"]).toContain((seen as { name: string }).name);
  });

  test("a caller that speaks TLS 1.2 at most gets no link", async () => {
    const a = await createIdentity("a");
    const seen = await handshake(
      bunTls({ key: a.key, cert: a.cert, requestCert: true, verify: () => null }),
      { rejectUnauthorized: false, secureOptions: NO_TLS13 },
    );
    expect(seen).toHaveProperty("error");
  });

  test("a listener that speaks TLS 1.2 at most gets no link from a bunTls caller", async () => {
    const [a, b] = await Promise.all([createIdentity("a"), createIdentity("b")]);
    const seen = await handshake(
      { key: a.key, cert: a.cert, secureOptions: NO_TLS13 },
      bunTls({ key: b.key, cert: b.cert, verify: () => null }),
    );
    expect(seen).toHaveProperty("error");
  });
});
