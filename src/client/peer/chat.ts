/**
 * Private chat (behaviour.md §6 startprivate / private / stopprivate) over peer links:
 * `pm` carries a line, `pm_stop` ends the session from the other side.
 */
import { stripControls } from "../../common/sanitize.ts";
import type { Output } from "../output.ts";
import { T } from "../texts.ts";
import type { Peers } from "./peers.ts";

/** What private chat offers the command loop. */
export interface PrivateChat {
  start(user: string): Promise<void>;
  send(user: string, text: string): void;
  stop(user: string): void;
  closeAll(): void;
}

export class Chat implements PrivateChat {
  constructor(
    private readonly peers: Peers,
    private readonly out: Output,
  ) {
    peers.router.on("pm", (conn, msg) =>
      this.out.print(T.privateChat(stripControls(conn.user), stripControls(msg.text)), "private"),
    );
    peers.router.on("pm_stop", (conn) => {
      if (this.peers.session(conn.user)?.conn === conn) this.peers.forget(conn.user);
      this.out.print(T.peerStoppedPrivate(stripControls(conn.user)), "notice");
      conn.link.end();
    });
    peers.onSessionEnded.push((conn) => this.out.print(T.privateEnded(stripControls(conn.user)), "notice"));
  }

  async start(user: string): Promise<void> {
    const r = await this.peers.open(user, true);
    if (typeof r === "string") this.out.print(r, "error");
    else this.out.print(T.privateStarted(user), "notice");
  }

  send(user: string, text: string): void {
    const e = this.peers.session(user);
    if (!e) return this.out.print(T.privateNotEnabled(user), "error");
    if (e.state === "gone" || !e.conn.link.isOpen) {
      this.peers.forget(user);
      e.conn.link.destroy();
      return this.out.print(T.peerGone(user), "error");
    }
    e.conn.send({ t: "pm", text });
  }

  stop(user: string): void {
    const e = this.peers.session(user);
    if (!e || e.state !== "live") {
      if (e) this.peers.forget(user);
      return this.out.print(T.noPrivateSession(user), "error");
    }
    this.peers.forget(user);
    e.conn.send({ t: "pm_stop" });
    e.conn.link.end();
    this.out.print(T.privateStopped(user), "notice");
  }

  /** Logout: every link closes. */
  closeAll(): void {
    this.peers.closeAll();
  }
}
