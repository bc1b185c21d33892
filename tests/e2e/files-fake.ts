/**
 * A protocol-level test double for a file holder, run as its own process so a test
 * can SIGKILL it mid-transfer:
 *
 *   bun tests/e2e/files-fake.ts <server_port> <user> <file> <mode> [chunks]
 *
 * It logs in over the raw protocol with a real peer port, registers <file> under its
 * base name with the file's true chunk hashes, then serves chunk requests:
 *   liar   answers every chunk with the right size of garbage
 *   stall  sends the first half (at most one piece) of the real bytes, prints `serving <chunk>`, then
 *          sends nothing more (the test kills the process)
 *   slow   sends the real bytes a piece at a time, 300 ms apart, and prints `serving <chunk>` after
 *          the first (a test can change the downloader's disk meanwhile); then `sent <chunk>`, or
 *          `cancelled <chunk>` when a chunk_cancel stopped it
 *   bigger announces (chunk_ok) and sends 4096 bytes more than the chunk: the real bytes, then garbage
 *   overflow announces the right size, then sends the real bytes and 4096 more in one frame
 * It prints `ready` once registered. Peer handshakes are accepted without a token
 * or certificate check (a test double, not a client); it presents the certificate
 * its login gave the server, so real callers accept it.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import type { Socket } from "bun";
import { chunkCount, chunkRange } from "../../src/protocol/files.ts";
import { encodeDataFrame, FrameDecoder, KIND_JSON } from "../../src/protocol/frame.ts";
import { DATA_PIECE, encodeMessage, MAX_PEER_FRAME } from "../../src/protocol/messages.ts";
import { RawConn, rawPeerIdentity, rawRequest } from "./rawconn.ts";

const [portArg, user, file, mode, chunksArg] = process.argv.slice(2);
const MODES = ["liar", "stall", "slow", "bigger", "overflow"];
if (!portArg || !user || !file || !MODES.includes(mode ?? "")) {
  console.error(`usage: files-fake.ts <server_port> <user> <file> ${MODES.join("|")} [chunks]`);
  process.exit(2);
}
const data = readFileSync(file);
const n = chunkCount(data.byteLength, Number(chunksArg ?? 10));
const hashes: string[] = [];
for (let c = 1; c <= n; c++) {
  const { start, end } = chunkRange(data.byteLength, n, c);
  hashes.push(createHash("sha256").update(data.subarray(start, end)).digest("hex"));
}

type Peer = { decoder: FrameDecoder; queue: Uint8Array[]; greeted: boolean };

function write(s: Socket<Peer>, bytes: Uint8Array): void {
  const q = s.data.queue;
  if (q.length === 0) {
    const k = s.write(bytes);
    if (k < 0 || k === bytes.byteLength) return;
    bytes = bytes.subarray(k);
  }
  q.push(bytes);
}

function flush(s: Socket<Peer>): void {
  const q = s.data.queue;
  while (q.length) {
    const k = s.write(q[0]!);
    if (k < 0) return;
    if (k < q[0]!.byteLength) {
      q[0] = q[0]!.subarray(k);
      return;
    }
    q.shift();
  }
}

/** Requests the downloader cancelled (chunk_cancel). */
const cancelled = new Set<number>();

function onMessage(s: Socket<Peer>, m: any): void {
  if (m.t === "peer_hello") {
    s.data.greeted = true;
    return write(s, encodeMessage({ t: "peer_welcome", user: user! }));
  }
  if (m.t === "chunk_cancel") return void cancelled.add(m.req);
  if (m.t !== "chunk_get" || !s.data.greeted) return;
  if (m.name !== basename(file!) || m.chunk < 1 || m.chunk > n) {
    return write(s, encodeMessage({ t: "chunk_none", req: m.req, reason: "not_held" }));
  }
  const { start, end } = chunkRange(data.byteLength, n, m.chunk);
  if (mode === "bigger" || mode === "overflow") {
    // The chunk must fit one frame with its extra bytes (the test keeps chunks small).
    const extra = Buffer.concat([data.subarray(start, end), randomBytes(4096)]);
    write(s, encodeMessage({ t: "chunk_ok", req: m.req, size: mode === "bigger" ? extra.byteLength : end - start }));
    console.log(`serving ${m.chunk}`);
    return write(s, encodeDataFrame(m.req, extra));
  }
  write(s, encodeMessage({ t: "chunk_ok", req: m.req, size: end - start }));
  if (mode === "stall") {
    // Half the chunk at most, so the chunk is never complete whatever DATA_PIECE is.
    write(s, encodeDataFrame(m.req, data.subarray(start, start + Math.min(DATA_PIECE, Math.floor((end - start) / 2)))));
    console.log(`serving ${m.chunk}`);
    return;
  }
  if (mode === "slow") {
    void (async () => {
      for (let pos = start; pos < end; pos += DATA_PIECE) {
        if (cancelled.has(m.req)) return console.log(`cancelled ${m.chunk}`);
        write(s, encodeDataFrame(m.req, data.subarray(pos, Math.min(end, pos + DATA_PIECE))));
        if (pos === start) console.log(`serving ${m.chunk}`);
        await Bun.sleep(300);
      }
      console.log(`sent ${m.chunk}`);
    })();
    return;
  }
  for (let pos = start; pos < end; pos += DATA_PIECE) {
    write(s, encodeDataFrame(m.req, randomBytes(Math.min(DATA_PIECE, end - pos))));
  }
}

// Peer links are mutual TLS: present the certificate the login gives the server (rawPeerIdentity's).
const id = await rawPeerIdentity();
const listener = Bun.listen<Peer>({
  hostname: "127.0.0.1",
  port: 0,
  tls: { key: id.key, cert: id.cert, requestCert: true, rejectUnauthorized: false },
  socket: {
    open(s) {
      s.data = { decoder: new FrameDecoder(MAX_PEER_FRAME), queue: [], greeted: false };
    },
    data(s, chunk) {
      for (const f of s.data.decoder.push(chunk)) {
        if (f.kind === KIND_JSON) onMessage(s, JSON.parse(new TextDecoder().decode(f.body)));
      }
    },
    drain: flush,
    error() {},
  },
});

const server = await RawConn.login(Number(portArg), user, { peerPort: listener.port });
const r = await rawRequest(server, { t: "file_register", name: basename(file), size: data.byteLength, hashes });
if (r.code !== "file_new" && r.code !== "file_same") {
  console.error(`register: ${JSON.stringify(r)}`);
  process.exit(1);
}
console.log("ready");
