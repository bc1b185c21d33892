/**
 * The logged-in client: the command loop, and what server events look like on
 * screen. Commands are run one after another so their output keeps its order.
 */
import type { Clock } from "../common/clock.ts";
import { stripControls } from "../common/sanitize.ts";
import { helpText, parseCommand, type Command } from "./commands.ts";
import type { FileCommand, Sharing } from "./files/commands.ts";
import type { PrivateChat } from "./peer/chat.ts";
import type { Answer, ServerEvent, ServerSession } from "./session.ts";
import { exitAfterFlush, type Terminal } from "./terminal.ts";
import { T } from "./texts.ts";

/** How long logout waits for the server's `bye` before closing anyway. */
const LOGOUT_WAIT_MS = 2000;

export class ClientApp {
  private leaving = false;
  peers: PrivateChat | null = null;
  /** File sharing (behaviour.md §6), set once logged in. */
  sharing: Sharing | null = null;
  /** Users this client has heard of (whoelse, presence, messages): for Tab completion. */
  readonly seenUsers = new Set<string>();

  constructor(
    readonly user: string,
    private readonly term: Terminal,
    private readonly server: ServerSession,
    private readonly clock: Clock,
  ) {
    server.setEventHandler((e) => this.onServerEvent(e));
    server.onClose = () => {
      if (this.leaving) return;
      this.leaving = true;
      this.peers?.closeAll();
      this.term.print(T.connectionLost, "error");
      exitAfterFlush(1);
    };
  }

  /** Read and run commands until logout, end of input or the session ends. */
  async run(): Promise<void> {
    for (;;) {
      const line = await this.term.nextLine();
      if (this.leaving) return;
      if (line === null) return this.logout();
      const parsed = parseCommand(line);
      if (parsed === null) continue;
      if (!parsed.ok) {
        this.server.activity();
        this.term.print(parsed.error, "error");
        continue;
      }
      try {
        await this.execute(parsed.cmd);
      } catch (e) {
        // A bug in one command must not end the session: one line, never a stack trace, and the next command works.
        if (!this.leaving) this.term.print(T.internalError((e as Error)?.message ?? String(e)), "error");
      }
      if (this.leaving) return;
    }
  }

  async logout(): Promise<void> {
    if (this.leaving) return;
    // If the link is gone already there is no `bye` to wait for (the request fails at once).
    const reply = this.server.request({ t: "logout" }).catch(() => null);
    this.leaving = true;
    this.peers?.closeAll();
    await new Promise<void>((done) => {
      const timer = this.clock.after(LOGOUT_WAIT_MS, done);
      void reply.then(() => {
        timer.cancel();
        done();
      });
    });
    this.term.print(T.goodbye, "system");
    this.server.close();
    this.term.close();
    exitAfterFlush(0);
  }

  private async execute(cmd: Command): Promise<void> {
    switch (cmd.name) {
      case "message":
      case "broadcast":
      case "whoelse":
      case "whoelsesince":
      case "block":
      case "unblock":
        return this.ask(cmd);
      case "startprivate":
        this.server.activity();
        return this.peers?.start(cmd.user);
      case "private":
        this.server.activity();
        return this.peers?.send(cmd.user, cmd.text);
      case "stopprivate":
        this.server.activity();
        return this.peers?.stop(cmd.user);
      case "register":
      case "searchFile":
      case "searchChunk":
      case "download":
      case "privateDownload":
        this.server.activity();
        return this.files(cmd);
      case "help":
        this.server.activity();
        return this.term.printLines(helpText(cmd.topic, this.term.isTTY));
      case "logout":
        return this.logout();
      default: {
        const never: never = cmd;
        throw new Error(`unhandled command ${JSON.stringify(never)}`);
      }
    }
  }

  /** The commands the server answers: ask, and show the answer. */
  private async ask(cmd: Extract<Command, { name: "message" | "broadcast" | "whoelse" | "whoelsesince" | "block" | "unblock" }>): Promise<void> {
    switch (cmd.name) {
      case "message": {
        const r = await this.server.request({ t: "message", to: cmd.user, text: cmd.text });
        return this.show(this.messageReply(cmd.user, r));
      }
      case "broadcast": {
        const r = await this.server.request({ t: "broadcast", text: cmd.text });
        const text = { ok: null, partial: T.broadcastPartial, too_long: T.tooLong };
        return this.show(r.code === "unexpected" ? T.unexpectedAnswer(r.got) : text[r.code]);
      }
      case "whoelse": {
        const r = await this.server.request({ t: "whoelse" });
        return this.showUsers(r, T.noOthersOnline);
      }
      case "whoelsesince": {
        const r = await this.server.request({ t: "whoelsesince", seconds: cmd.seconds });
        return this.showUsers(r, T.noOthersSince(cmd.seconds));
      }
      case "block": {
        const r = await this.server.request({ t: "block", user: cmd.user });
        if (r.code === "unexpected") return this.show(T.unexpectedAnswer(r.got));
        const text = { ok: T.blockedUser(cmd.user), self: T.blockSelf, invalid_user: T.invalidUser, already: T.alreadyBlocked(cmd.user), storage_failure: T.storageFailure };
        return this.show(text[r.code]);
      }
      case "unblock": {
        const r = await this.server.request({ t: "unblock", user: cmd.user });
        if (r.code === "unexpected") return this.show(T.unexpectedAnswer(r.got));
        const text = { ok: T.unblockedUser(cmd.user), self: T.unblockSelf, invalid_user: T.invalidUser, not_blocked: T.notBlocked(cmd.user), storage_failure: T.storageFailure };
        return this.show(text[r.code]);
      }
    }
  }

  private async files(cmd: FileCommand): Promise<void> {
    await this.sharing?.run(cmd);
  }

  private messageReply(to: string, r: Answer<"message">): string | null {
    if (r.code === "ok" || r.code === "stored") this.seenUsers.add(to);
    switch (r.code) {
      case "ok":
        return null;
      case "stored":
        return T.offlineStored(to);
      case "blocked_you":
        return T.recipientBlocked;
      case "invalid_user":
        return T.invalidUser;
      case "self":
        return T.messageSelf;
      case "too_long":
        return T.tooLong;
      case "mailbox_full":
        return T.mailboxFull(to);
      case "storage_failure":
        return T.storageFailure;
      case "unexpected":
        return T.unexpectedAnswer(r.got);
    }
  }

  private show(text: string | null): void {
    if (text === null) return;
    this.term.print(text, text.startsWith("Error.") || text.startsWith("Your message could not") ? "error" : "notice");
  }

  private showUsers(r: Answer<"whoelse" | "whoelsesince">, none: string): void {
    if (r.code === "unexpected") return this.show(T.unexpectedAnswer(r.got));
    const users = r.users.map(stripControls);
    for (const u of users) this.seenUsers.add(u);
    if (users.length === 0) this.term.print(none, "notice");
    else this.term.printLines(users);
  }

  private onServerEvent(e: ServerEvent): void {
    switch (e.t) {
      case "msg": {
        const from = stripControls(e.from);
        this.seenUsers.add(from);
        return this.term.print(T.chat(from, stripControls(e.text)), "chat");
      }
      case "presence": {
        const u = stripControls(e.user);
        this.seenUsers.add(u);
        return this.term.print(e.state === "in" ? T.loggedIn(u) : T.loggedOut(u), "system");
      }
      case "kicked":
        this.leaving = true;
        this.peers?.closeAll();
        this.term.print(T.timedOut, "notice");
        this.term.close();
        return exitAfterFlush(0);
      case "error":
        return this.term.print(`Error. ${stripControls(e.detail ?? e.code)}`, "error");
    }
  }
}
