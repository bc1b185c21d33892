/**
 * Whether to trust the server a client reached (trust on first use, as SSH does).
 *
 * In order: a fingerprint given with --fingerprint is the only one accepted (no
 * file is read or written); else a certificate that verifies against the system's
 * certificate authorities for the host name is accepted; else the server is looked
 * up in known_servers: unknown → remembered, same → silent, different → refused
 * before anything is sent.
 */
import { appendFileSync, chmodSync, mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { isIP } from "node:net";
import { dirname, join } from "node:path";
import type { LinkTls, PeerCert } from "../net/link.ts";
import { T } from "./texts.ts";

export type TrustVerdict =
  | { kind: "pinned" } // --fingerprint matched
  | { kind: "pin_mismatch" } // --fingerprint given, the server has another
  | { kind: "ca" } // verified by a certificate authority for this host
  | { kind: "known" } // known_servers has this fingerprint for this host:port
  | { kind: "new" } // not in known_servers: accept and remember
  | { kind: "changed" }; // known_servers has another fingerprint: refuse

export type TrustInput = {
  /** `<host>:<port>` as the user typed them. */
  hostPort: string;
  /** The server certificate's fingerprint (`SHA256:...`). */
  fingerprint: string;
  /** Did the certificate verify against the system's CAs, for this host name? */
  caVerified: boolean;
  /** --fingerprint, if given. */
  pinned?: string;
  /** known_servers, parsed. */
  known: ReadonlyMap<string, string>;
};

export function judgeServer(i: TrustInput): TrustVerdict {
  if (i.pinned !== undefined) return i.pinned === i.fingerprint ? { kind: "pinned" } : { kind: "pin_mismatch" };
  if (i.caVerified) return { kind: "ca" };
  const known = i.known.get(i.hostPort);
  if (known === undefined) return { kind: "new" };
  return known === i.fingerprint ? { kind: "known" } : { kind: "changed" };
}

/** `$XDG_CONFIG_HOME/termchat/known_servers`, default `~/.config/termchat/known_servers`. */
export function knownServersPath(env: Record<string, string | undefined> = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith("/") ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), ".config");
  return join(base, "termchat", "known_servers");
}

/** One `<host>:<port> SHA256:<fp>` per line; anything else (comments, damage) is passed over. The first line for a server wins. */
export function parseKnownServers(text: string): Map<string, string> {
  const known = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^(\S+) (SHA256:\S+)\s*$/.exec(line);
    if (m && !known.has(m[1]!)) known.set(m[1]!, m[2]!);
  }
  return known;
}

/** known_servers as a map; an absent file is an empty one. Throws on any other read error. */
export function readKnownServers(file: string): Map<string, string> {
  try {
    return parseKnownServers(readFileSync(file, "utf8"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return new Map();
    throw e;
  }
}

/** Add a line for a new server (the folder is made private to the user, the file 0600). */
export function rememberServer(file: string, hostPort: string, fingerprint: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  appendFileSync(file, `${hostPort} ${fingerprint}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** What the check of the server's certificate concluded: a notice to show, or why the server was refused. */
export type TrustOutcome = { notice?: string; refusal?: string };

/** Does the certificate verify against the system's CAs and name this host? (Bun.connect checks no host name.) */
export function caVerifiedFor(host: string, peer: PeerCert): boolean {
  if (!peer.authorized || !peer.x509) return false;
  const name = isIP(host) ? peer.x509.checkIP(host) : peer.x509.checkHost(host);
  return name !== undefined;
}

/**
 * The TLS options of the client's link to the server: `verify` judges the server's
 * certificate (judgeServer), remembers a new one, and leaves in `outcome` the notice
 * to show (before `Username:`) or the one-line refusal.
 */
export function serverTrust(host: string, port: number, pinned: string | undefined, file: string): { tls: LinkTls; outcome: TrustOutcome } {
  const hostPort = `${host}:${port}`;
  const outcome: TrustOutcome = {};
  const verify = (peer: PeerCert): string | null => {
    const fp = peer.fingerprint ?? "(none)";
    let known = new Map<string, string>();
    if (pinned === undefined) {
      try {
        known = readKnownServers(file);
      } catch (e) {
        // Not knowing what was remembered must not let a changed server in.
        return (outcome.refusal = T.cannotReadKnown(file, (e as NodeJS.ErrnoException).code ?? (e as Error).message));
      }
    }
    const verdict = judgeServer({ hostPort, fingerprint: fp, caVerified: caVerifiedFor(host, peer), pinned, known });
    switch (verdict.kind) {
      case "pin_mismatch":
        return (outcome.refusal = T.notThePinned(hostPort, fp));
      case "changed":
        return (outcome.refusal = T.identityChanged(hostPort, fp, file));
      case "new":
        try {
          rememberServer(file, hostPort, fp);
          outcome.notice = T.newServer(hostPort, fp, file);
        } catch (e) {
          outcome.notice = T.cannotRemember(file, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
        }
        return null;
      default:
        return null;
    }
  };
  return { tls: { serverName: isIP(host) ? undefined : host, verify }, outcome };
}
