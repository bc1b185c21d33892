/**
 * Peer to peer and file sharing (behaviour.md §6): giving out addresses and one-time
 * tokens, redeeming them, and the chunk registry's requests.
 */
import type { HubContext, Reply, Req } from "./hub-context.ts";

export function peerRequest(hub: HubContext, user: string, m: Req<"peer_request">): Reply {
  if (!hub.accounts.exists(m.user)) return { code: "invalid_user", user: m.user };
  if (m.user === user) return { code: "self", user: m.user };
  const peer = hub.presence.get(m.user);
  // A blocker is hidden: "offline" would leak nothing, but behaviour.md §6 names the error.
  if (!peer || peer.peerPort === undefined) return { code: "offline", user: m.user };
  if (hub.store.blocks.has(m.user, user)) return { code: "blocked_you", user: m.user };
  const { token, evicted } = hub.tokens.issue(user, m.user);
  if (evicted > 0) hub.log.debug(`${user}: over the peer-token budget, ${evicted} of their oldest tokens dropped`);
  // The callee's certificate fingerprint: the caller accepts no other at that address.
  const cert = peer.peerCert !== undefined ? { cert: peer.peerCert } : {};
  return { code: "peer", user: m.user, host: peer.host, port: peer.peerPort, token, ...cert };
}

export function peerCheck(hub: HubContext, user: string, m: Req<"peer_check">): Reply {
  const good = hub.tokens.redeem(m.token, m.user, user);
  if (!good) return { code: "token_bad", user: m.user };
  // The caller's certificate fingerprint as it gave it at login: the callee accepts the
  // link only if the caller presented that certificate.
  const cert = hub.presence.get(m.user)?.peerCert;
  return { code: "token_ok", user: m.user, ...(cert !== undefined ? { cert } : {}) };
}

/** File sharing (behaviour.md §6): register, announce held chunks, search. */
export function fileRequest(hub: HubContext, user: string, m: Req<"file_register" | "file_have" | "file_search">): Reply {
  switch (m.t) {
    case "file_register": {
      const r = hub.files.register(user, m.name, m.size, m.hashes, m.have);
      if (r.code === "bad" || r.code === "full") hub.log.debug(`${user}: file_register ${JSON.stringify(m.name).slice(0, 80)} refused: ${r.why}`);
      if (r.code === "conflict") return { code: "file_conflict", size: r.size, hashes: r.hashes };
      const code = { new: "file_new", same: "file_same", full: "registry_full", bad: "bad_args" } as const;
      return { code: code[r.code] };
    }
    case "file_have": {
      const r = hub.files.have(user, m.name, m.chunks);
      return { code: ({ ok: "ok", not_found: "not_found", bad: "bad_args", full: "registry_full" } as const)[r] };
    }
    case "file_search": {
      // Holders who blocked the asker are hidden from them (behaviour.md §4); the asker is shown if a holder.
      const found = hub.files.search(m.name, (u) => u === user || !hub.store.blocks.has(u, user));
      if (!found) return { code: "not_found" };
      return { code: "file", ...found };
    }
  }
}
