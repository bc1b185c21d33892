/**
 * Peer to peer and file sharing (behaviour.md §6): giving out addresses and one-time
 * tokens, redeeming them, and the chunk registry's requests.
 */
import type { HubContext, MaybeReply, Reply, Req } from "./hub-context.ts";
import { all, then } from "./maybe.ts";

export function peerRequest(hub: HubContext, user: string, m: Req<"peer_request">): MaybeReply {
  if (!hub.accounts.exists(m.user)) return { code: "invalid_user", user: m.user };
  if (m.user === user) return { code: "self", user: m.user };
  // Wherever the callee is logged in (any server of a cluster): its address is in the directory.
  return then(hub.directory.lookup(m.user), (peer): MaybeReply => {
    // A blocker is hidden: "offline" would leak nothing, but behaviour.md §6 names the error.
    if (!peer || peer.peerPort === undefined) return { code: "offline", user: m.user };
    const port = peer.peerPort;
    return then(hub.store.blocks.has(m.user, user), (blocked): MaybeReply => {
      if (blocked) return { code: "blocked_you", user: m.user };
      return then(hub.tokens.issue(user, m.user), ({ token, evicted }): Reply => {
        if (evicted > 0) hub.log.debug(`${user}: over the peer-token budget, ${evicted} of their oldest tokens dropped`);
        // The callee's certificate fingerprint: the caller accepts no other at that address.
        const cert = peer.peerCert !== undefined ? { cert: peer.peerCert } : {};
        return { code: "peer", user: m.user, host: peer.host, port, token, ...cert };
      });
    });
  });
}

export function peerCheck(hub: HubContext, user: string, m: Req<"peer_check">): MaybeReply {
  return then(hub.tokens.redeem(m.token, m.user, user), (good): MaybeReply => {
    if (!good) return { code: "token_bad", user: m.user };
    // The caller's certificate fingerprint as it gave it at login (whichever server it
    // uses): the callee accepts the link only if the caller presented that certificate.
    return then(hub.directory.lookup(m.user), (caller): Reply => {
      const cert = caller?.peerCert;
      return { code: "token_ok", user: m.user, ...(cert !== undefined ? { cert } : {}) };
    });
  });
}

const REGISTER_CODE = { new: "file_new", same: "file_same", full: "registry_full", bad: "bad_args" } as const;
const HAVE_CODE = { ok: "ok", not_found: "not_found", bad: "bad_args", full: "registry_full" } as const;

/** File sharing (behaviour.md §6): register, announce held chunks, search. */
export function fileRequest(hub: HubContext, user: string, m: Req<"file_register" | "file_have" | "file_search">): MaybeReply {
  switch (m.t) {
    case "file_register":
      return then(hub.files.register(user, m.name, m.size, m.hashes, m.have), (r): Reply => {
        if (r.code === "bad" || r.code === "full") hub.log.debug(`${user}: file_register ${JSON.stringify(m.name).slice(0, 80)} refused: ${r.why}`);
        if (r.code === "conflict") return { code: "file_conflict", size: r.size, hashes: r.hashes };
        return { code: REGISTER_CODE[r.code] };
      });
    case "file_have":
      return then(hub.files.have(user, m.name, m.chunks), (r): Reply => ({ code: HAVE_CODE[r] }));
    case "file_search":
      return then(hub.files.search(m.name), (found): MaybeReply => {
        if (!found) return { code: "not_found" };
        // Holders who blocked the asker are hidden from them (behaviour.md §4); the asker is shown if a holder.
        const shown = found.users.map((u) => u === user || then(hub.store.blocks.has(u, user), (b) => !b));
        return then(all(shown), (ok): Reply => ({
          code: "file",
          size: found.size,
          hashes: found.hashes,
          users: found.users.filter((_, i) => ok[i]),
          maps: found.maps.filter((_, i) => ok[i]),
        }));
      });
  }
}
