/**
 * The baseline for bench/transfer.ts: a plain Bun TCP disk→disk copy of one file,
 * with no framing, no hashing and no protocol — what the machine allows.
 *
 *   bun bench/transfer-raw.ts recv <out-file> [--tls]        prints "listening <port>", then "done <bytes> <seconds>"
 *   bun bench/transfer-raw.ts send <port> <in-file> [--tls]  streams the file, exits when sent
 *
 * Both sides use fs file handles and pieces of PIECE bytes, like the real client,
 * and the sender honours backpressure (write() + drain), so the comparison is fair.
 *
 * --tls (both sides): mutual TLS as on the clients' peer links — each side a fresh
 * ECDSA P-256 identity from the project's identity module, TLS 1.3 only, the
 * listener asking for the caller's certificate (src/net/tls.ts bunTls), nothing
 * verified beyond that (the peer links' fingerprint check is one comparison).
 */
import { open } from "node:fs/promises";
import { createIdentity } from "../src/net/identity.ts";
import { bunTls } from "../src/net/tls.ts";

const PIECE = 256 * 1024;
const [mode, a, b] = process.argv.slice(2);
const tls = process.argv.includes("--tls");

/** Bun's tls option for this side, or nothing over plain TCP. */
async function tlsOption(listener: boolean): Promise<{ tls?: any }> {
  if (!tls) return {};
  const id = await createIdentity("transfer bench");
  return { tls: bunTls({ key: id.key, cert: id.cert, requestCert: listener, verify: () => null }) };
}

if (mode === "recv") {
  const fh = await open(a!, "w");
  let pos = 0;
  let pending = 0;
  let ended = false;
  let paused = false;
  let sock: any = null;
  let t0 = 0;
  const finish = () => {
    if (ended && pending === 0) {
      void fh.close().then(() => {
        // Seconds from the connection's open to the file closed: the sender's start-up is not counted.
        console.log(`done ${pos} ${((performance.now() - t0) / 1000).toFixed(4)}`);
        process.exit(0);
      });
    }
  };
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    ...(await tlsOption(true)),
    socket: {
      open(s) {
        sock = s;
        t0 = performance.now();
      },
      data(s, chunk) {
        const at = pos;
        pos += chunk.byteLength;
        pending += chunk.byteLength;
        if (pending > 8 << 20 && !paused) {
          paused = true;
          s.pause();
        }
        void fh.write(chunk, 0, chunk.byteLength, at).then(() => {
          pending -= chunk.byteLength;
          if (paused && pending < 2 << 20) {
            paused = false;
            sock?.resume();
          }
          finish();
        });
      },
      end() {
        ended = true;
        finish();
      },
      close() {
        ended = true;
        finish();
      },
      error() {},
    },
  });
  console.log(`listening ${listener.port}`);
} else if (mode === "send") {
  const fh = await open(b!, "r");
  const size = (await fh.stat()).size;
  let waiter: (() => void) | null = null;
  let handshaken!: () => void;
  const ready = new Promise<void>((r) => (handshaken = r));
  const sock = await Bun.connect({
    hostname: "127.0.0.1",
    port: Number(a),
    ...(await tlsOption(false)),
    socket: {
      handshake() {
        handshaken();
      },
      data() {},
      drain() {
        const w = waiter;
        waiter = null;
        w?.();
      },
      error() {},
    },
  });
  if (tls) await ready;
  for (let pos = 0; pos < size; ) {
    const buf = Buffer.allocUnsafe(Math.min(PIECE, size - pos));
    const { bytesRead } = await fh.read(buf, 0, buf.byteLength, pos);
    let view = buf.subarray(0, bytesRead);
    pos += bytesRead;
    for (;;) {
      const n = sock.write(view);
      if (n < 0) throw new Error("socket closed");
      if (n === view.byteLength) break;
      view = view.subarray(n);
      await new Promise<void>((r) => (waiter = r));
    }
  }
  sock.shutdown();
  await fh.close();
  setTimeout(() => process.exit(0), 100);
} else {
  console.error("usage: transfer-raw.ts recv <out> [--tls] | send <port> <in> [--tls]");
  process.exit(2);
}
