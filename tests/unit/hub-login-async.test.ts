/**
 * Logins against hashed passwords (credentials lines holding `$argon2id$...`): the
 * verdict arrives later (Bun.password.verify runs off the main thread). Here the
 * verifier is a fake whose verdicts the test releases one by one, with the manual clock.
 */
import { describe, expect, test } from "bun:test";
import { ManualClock } from "../../src/common/clock.ts";
import { silentLogger } from "../../src/common/logger.ts";
import type { ClientMsg } from "../../src/protocol/messages.ts";
import { Accounts, isPasswordHash, type PasswordVerifier } from "../../src/server/accounts.ts";
import { Hub } from "../../src/server/hub.ts";
import { MAX_HELD } from "../../src/server/login-rules.ts";
import { memoryStore } from "../../src/server/store.ts";
import { CFG, FakeOutbox, result } from "./hubkit.ts";

/** A verifier whose answers wait until release(): `hash` is `$argon2id$<the password>` here. */
class SlowVerifier {
  readonly waiting: { ok: boolean; done: (ok: boolean) => void }[] = [];
  readonly verify: PasswordVerifier = (password, hash) =>
    new Promise((done) => this.waiting.push({ ok: hash === `$argon2id$${password}`, done }));
  /** Let the oldest pending verdict arrive, and the promise callbacks run. */
  async release(): Promise<void> {
    const w = this.waiting.shift();
    if (!w) throw new Error("no verdict pending");
    w.done(w.ok);
    await Bun.sleep(0);
  }
}

function bench() {
  const clock = new ManualClock();
  const out = new FakeOutbox();
  const slow = new SlowVerifier();
  const users = new Map([
    ["hans", "$argon2id$falcon"],
    ["yoda", "wise"], // a plain line keeps working beside hashed ones
  ]);
  const hub = new Hub(users, memoryStore(), clock, { ...CFG, verifyPassword: slow.verify }, out, silentLogger);
  out.settle = () => hub.notices.flush();
  let next = 1;
  const greeted = () => {
    const sid = next++;
    hub.connect(sid, "10.0.0.1");
    hub.receive(sid, { t: "hello", v: 2, app: "termchat" });
    out.take(sid);
    return sid;
  };
  return { clock, out, slow, hub, greeted };
}

const login = (user: string, pass: string): ClientMsg => ({ t: "login", user, pass });

describe("hashed passwords", () => {
  test("the credentials fields taken as hashes", () => {
    for (const h of ["$argon2id$v=19$m=65536", "$argon2i$x", "$argon2d$x", "$2a$10$x", "$2b$10$x", "$2y$10$x"]) expect(isPasswordHash(h)).toBe(true);
    for (const p of ["falcon", "$2c$10$x", "argon2id$", "$argon2$x", "$$"]) expect(isPasswordHash(p)).toBe(false);
  });

  test("the right password: nothing is answered until the verdict, then ok", async () => {
    const b = bench();
    const sid = b.greeted();
    b.hub.receive(sid, login("hans", "falcon"));
    expect(b.out.take(sid)).toEqual([]);
    expect(b.hub.presence.isOnline("hans")).toBe(false);
    await b.slow.release();
    expect(b.out.take(sid)[0]).toEqual(result("ok", "hans"));
    expect(b.hub.presence.isOnline("hans")).toBe(true);
  });

  test("what the client sends meanwhile waits, then is handled in order after the verdict", async () => {
    const b = bench();
    const sid = b.greeted();
    b.hub.receive(sid, login("hans", "falcon"));
    b.hub.receive(sid, { t: "whoelse", id: 1 });
    b.hub.receive(sid, { t: "logout", id: 2 });
    expect(b.out.take(sid)).toEqual([]);
    await b.slow.release();
    const got = b.out.take(sid).map((m) => (m.t === "reply" ? `reply ${m.id}` : m.t));
    expect(got).toEqual(["login_result", "reply 1", "reply 2"]);
    expect(b.out.closed.has(sid)).toBe(true);
  });

  test("a wrong password then a second login attempt held behind it: both answered, in order", async () => {
    const b = bench();
    const sid = b.greeted();
    b.hub.receive(sid, login("hans", "wrong"));
    b.hub.receive(sid, login("hans", "falcon"));
    await b.slow.release();
    expect(b.out.take(sid)).toEqual([result("bad_password", "hans")]);
    expect(b.slow.waiting.length).toBe(1); // the second attempt is now being verified
    await b.slow.release();
    expect(b.out.take(sid)[0]).toEqual(result("ok", "hans"));
  });

  test("lockout applies as for plain lines: the third wrong verdict blocks the account for block_duration", async () => {
    const b = bench();
    const sid = b.greeted();
    for (let i = 0; i < 3; i++) {
      b.hub.receive(sid, login("hans", `wrong${i}`));
      await b.slow.release();
    }
    expect(b.out.take(sid)).toEqual([result("bad_password", "hans"), result("bad_password", "hans"), result("locked_now", "hans")]);
    const again = b.greeted();
    b.hub.receive(again, login("hans", "falcon"));
    expect(b.out.take(again)).toEqual([result("blocked", "hans")]); // no verification needed
    b.clock.advance(CFG.blockMs);
    const later = b.greeted();
    b.hub.receive(later, login("hans", "falcon"));
    await b.slow.release();
    expect(b.out.take(later)[0]).toEqual(result("ok", "hans"));
  });

  test("a right password whose verdict arrives after the account was locked meanwhile is refused", async () => {
    const clock = new ManualClock();
    const slow = new SlowVerifier();
    const accounts = new Accounts(new Map([["hans", "$argon2id$falcon"]]), clock, 10_000, slow.verify);
    const right = accounts.attempt("hans", "falcon") as Promise<string>;
    const wrong = [1, 2, 3].map((i) => accounts.attempt("hans", `w${i}`) as Promise<string>);
    slow.waiting.push(slow.waiting.shift()!); // the right one's verdict comes last
    for (let i = 0; i < 4; i++) await slow.release();
    expect(await Promise.all(wrong)).toEqual(["bad_password", "bad_password", "locked_now"]);
    expect(await right).toBe("blocked");
  });

  test("a connection gone before its verdict: the verdict goes nowhere", async () => {
    const b = bench();
    const sid = b.greeted();
    b.hub.receive(sid, login("hans", "falcon"));
    b.clock.advance(CFG.preLoginMs); // the pre-login timeout closes it meanwhile
    expect(b.out.closed.has(sid)).toBe(true);
    b.out.take(sid);
    b.hub.disconnect(sid);
    await b.slow.release();
    expect(b.out.take(sid)).toEqual([]);
    expect(b.hub.presence.isOnline("hans")).toBe(false);
  });

  test(`more than ${MAX_HELD} messages while the verdict is pending: protocol error, closed`, async () => {
    const b = bench();
    const sid = b.greeted();
    b.hub.receive(sid, login("hans", "falcon"));
    for (let i = 0; i <= MAX_HELD; i++) b.hub.receive(sid, { t: "activity" });
    expect(b.out.take(sid)).toEqual([{ t: "error", code: "protocol", detail: "too many messages before the login result" }]);
    expect(b.out.closed.has(sid)).toBe(true);
    await b.slow.release();
    expect(b.out.take(sid)).toEqual([]);
  });

  test("a verifier that fails (an unreadable hash) counts as a wrong password", async () => {
    const accounts = new Accounts(new Map([["hans", "$2b$broken"]]), new ManualClock(), 1000, () => Promise.reject(new Error("bad hash")));
    expect(await accounts.attempt("hans", "x")).toBe("bad_password");
  });

  test("a plain line is still answered at once (constant-time compare)", () => {
    const b = bench();
    const sid = b.greeted();
    b.hub.receive(sid, login("yoda", "wise"));
    expect(b.out.take(sid)[0]).toEqual(result("ok", "yoda"));
  });
});
