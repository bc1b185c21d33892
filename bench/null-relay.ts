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
import { COMPACT_VERSION, compactServerMax, decodeClientFrame, encodeCompactServer, fillCompactServer } from "../src/protocol/compact.ts";
import { directMsg } from "../src/protocol/frame-text.ts";
import { encodeMessage, MAX_SERVER_FRAME, PROTOCOL_VERSION, SUPPORTED_VERSIONS, type ServerMsg } from "../src/protocol/messages.ts";
import { listenLinks, type Link } from "../src/net/link.ts";
import { createIdentity } from "../src/net/identity.ts";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write("usage: null-relay <port>\n");
  process.exit(2);
}

/** A client's link and whether it agreed on version 3 (compact frames), as in ./server. */
type Conn = { link: Link; compact: boolean };
const byName = new Map<string, Conn>();

/** As ./server sends: a compact frame straight into the link's held bytes, else JSON. */
function send(c: Conn, m: ServerMsg): void {
  const max = c.compact ? compactServerMax(m) : 0;
  if (max > 0) c.link.sendWith(max, fillCompactServer, m);
  else c.link.send(encodeMessage(m));
}

const id = process.argv.includes("--tls") ? await createIdentity("null relay") : null;
const tls = id ? { key: id.key, cert: id.cert, verify: () => null } : undefined;

listenLinks("127.0.0.1", port, { maxFrame: MAX_SERVER_FRAME, maxQueued: 8 << 20, flushPerTurn: true }, (link) => {
  let user: string | null = null;
  const me: Conn = { link, compact: false };
  link.attach({
    frame(f) {
      const m = decodeClientFrame(f, me.compact);
      if (typeof m === "string") return link.destroy(m);
      switch (m.t) {
        case "hello": {
          const v = SUPPORTED_VERSIONS.includes(m.v) ? m.v : PROTOCOL_VERSION;
          link.send(encodeMessage({ t: "hello_ok", v, maxFrame: MAX_SERVER_FRAME }));
          me.compact = v >= COMPACT_VERSION;
          return;
        }
        case "login":
          user = m.user;
          byName.set(user, me);
          link.send(encodeMessage({ t: "login_result", code: "ok", user }));
          return;
        case "message": {
          if (!user) return;
          const to = byName.get(m.to);
          if (to) send(to, directMsg(user, m));
          send(me, { t: "reply", id: m.id, code: "ok" });
          return;
        }
        case "broadcast": {
          if (!user) return;
          const msg: ServerMsg = { t: "msg", from: user, text: m.text, kind: "broadcast" };
          const forms = [encodeMessage(msg), encodeCompactServer(msg) ?? encodeMessage(msg)];
          for (const [name, c] of byName) if (name !== user) c.link.send(forms[c.compact ? 1 : 0]!);
          send(me, { t: "reply", id: m.id, code: "ok" });
          return;
        }
        default:
          return;
      }
    },
    close() {
      if (user && byName.get(user) === me) byName.delete(user);
    },
  });
}, tls);

process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
