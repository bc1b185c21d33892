/**
 * The null relay: the smallest Bun server that speaks our protocol with the
 * project's own framing, link and codec (src/net, src/protocol) and relays
 * without any rules — no passwords, no blocks, no presence, no timeouts, no
 * mailbox. It is the ceiling for a Bun server on this machine: what ./server
 * would do if its rules cost nothing.
 *
 *   bun bench/null-relay.ts <port> [--tls]     (the bench compiles it like ./server)
 *
 * With --tls it serves TLS with a fresh identity, as ./server does by default.
 */
import { KIND_JSON } from "../src/protocol/frame.ts";
import { decodeClient, encodeMessage, MAX_SERVER_FRAME, PROTOCOL_VERSION } from "../src/protocol/messages.ts";
import { listenLinks, type Link } from "../src/net/link.ts";
import { createIdentity } from "../src/net/identity.ts";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write("usage: null-relay <port>\n");
  process.exit(2);
}

const byName = new Map<string, Link>();

const id = process.argv.includes("--tls") ? await createIdentity("null relay") : null;
const tls = id ? { key: id.key, cert: id.cert, verify: () => null } : undefined;

listenLinks("127.0.0.1", port, { maxFrame: MAX_SERVER_FRAME, maxQueued: 8 << 20, flushPerTurn: true }, (link) => {
  let user: string | null = null;
  link.attach({
    frame(f) {
      if (f.kind !== KIND_JSON) return;
      const m = decodeClient(f.body);
      if (typeof m === "string") return link.destroy(m);
      switch (m.t) {
        case "hello":
          link.send(encodeMessage({ t: "hello_ok", v: PROTOCOL_VERSION, maxFrame: MAX_SERVER_FRAME }));
          return;
        case "login":
          user = m.user;
          byName.set(user, link);
          link.send(encodeMessage({ t: "login_result", code: "ok", user }));
          return;
        case "message": {
          if (!user) return;
          byName.get(m.to)?.send(encodeMessage({ t: "msg", from: user, text: m.text, kind: "direct" }));
          link.send(encodeMessage({ t: "reply", id: m.id, code: "ok" }));
          return;
        }
        case "broadcast": {
          if (!user) return;
          const bytes = encodeMessage({ t: "msg", from: user, text: m.text, kind: "broadcast" });
          for (const [name, l] of byName) if (name !== user) l.send(bytes);
          link.send(encodeMessage({ t: "reply", id: m.id, code: "ok" }));
          return;
        }
        default:
          return;
      }
    },
    close() {
      if (user && byName.get(user) === link) byName.delete(user);
    },
  });
}, tls);

process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
