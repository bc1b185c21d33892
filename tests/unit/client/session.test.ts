/**
 * The client's server session on a manual clock and an in-memory link: the hello and
 * login timeouts, replies typed and checked per request, requests failed when the
 * link goes.
 */
import { describe, expect, test } from "bun:test";
import { ManualClock } from "../../../src/common/clock.ts";
import { HANDSHAKE_MS, ServerSession, SessionError } from "../../../src/client/session.ts";
import { fakeServer, FakeLink, settle } from "./fake-link.ts";

function track<T>(p: Promise<T>) {
  const state: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then(
    (value) => Object.assign(state, { done: true, value }),
    (error) => Object.assign(state, { done: true, error }),
  );
  return state;
}

describe("timeouts", () => {
  test("no hello_ok: connecting fails after HANDSHAKE_MS, not before", async () => {
    const clock = new ManualClock();
    let link: FakeLink | null = null;
    const s = track(ServerSession.open(async (ev) => (link = new FakeLink(ev)), clock));
    await settle();
    expect(link!.sentTypes).toEqual(["hello"]);
    clock.advance(HANDSHAKE_MS - 1);
    await settle();
    expect(s.done).toBe(false);
    clock.advance(1);
    await settle();
    expect(s.error).toBeInstanceOf(SessionError);
    expect((s.error as Error).message).toBe("no hello_ok from server");
  });

  test("no login_result: login fails after HANDSHAKE_MS; a later answer is not taken for another wait", async () => {
    const clock = new ManualClock();
    const { session, link } = await fakeServer(clock);
    const s = track(session.login("hans", "falcon", 5000));
    await settle();
    expect(link.sent.at(-1)).toEqual({ t: "login", user: "hans", pass: "falcon", peerPort: 5000 });
    clock.advance(HANDSHAKE_MS - 1);
    await settle();
    expect(s.done).toBe(false);
    clock.advance(1);
    await settle();
    expect((s.error as Error).message).toBe("no login_result from server");
    // The next login gets its own answer.
    const again = track(session.login("hans", "falcon"));
    link.deliver({ t: "login_result", code: "ok", user: "hans" });
    await settle();
    expect(again.value).toBe("ok");
  });
});

describe("replies", () => {
  test("a reply is typed by its request: whoelse gets users", async () => {
    const clock = new ManualClock();
    const { session } = await fakeServer(clock, (req) => (req.t === "whoelse" ? { code: "users", users: ["a", "b"] } : null));
    const r = await session.request({ t: "whoelse" });
    if (r.code !== "users") throw new Error(`got ${r.code}`);
    expect(r.users).toEqual(["a", "b"]);
  });

  test("a code the request cannot get comes back as unexpected, with the code", async () => {
    const clock = new ManualClock();
    const { session } = await fakeServer(clock, () => ({ code: "users", users: [] }));
    const r = await session.request({ t: "message", to: "x", text: "hi" });
    expect(r.code).toBe("unexpected");
    if (r.code === "unexpected") expect(r.got).toBe("users");
  });

  test("a fitting code without its fields comes back as unexpected", async () => {
    const clock = new ManualClock();
    const { session } = await fakeServer(clock, () => ({ code: "file", size: 3 }));
    const r = await session.request({ t: "file_search", name: "a.txt" });
    expect(r).toMatchObject({ code: "unexpected", got: "file" });
  });

  test("requests open when the link closes are rejected with SessionError", async () => {
    const clock = new ManualClock();
    const { session, link } = await fakeServer(clock);
    let closedWith = "";
    session.onClose = (why) => (closedWith = why);
    const a = track(session.request({ t: "whoelse" }));
    const b = track(session.request({ t: "block", user: "x" }));
    link.close("reset");
    await settle();
    expect(a.error).toBeInstanceOf(SessionError);
    expect(b.error).toBeInstanceOf(SessionError);
    expect(closedWith).toBe("reset");
    await expect(session.request({ t: "whoelse" })).rejects.toBeInstanceOf(SessionError);
  });
});

describe("acknowledging offline messages", () => {
  /** Deliver offline messages with these seqs in one turn; the acks the session then sent. */
  async function acksFor(seqs: number[]): Promise<unknown[]> {
    const { session, link } = await fakeServer(new ManualClock());
    const shown: number[] = [];
    session.setEventHandler((e) => e.t === "msg" && shown.push(e.seq!));
    for (const seq of seqs) link.deliver({ t: "msg", from: "yoda", text: `m${seq}`, kind: "offline", seq });
    await settle();
    expect(shown).toEqual(seqs);
    return link.sent.filter((m) => m.t === "ack").map((m) => m.upTo);
  }

  test("messages that arrive together are acked once, after the last, however far apart their seqs", async () => {
    // seqs increase but not by 1 (other users' messages were stored in between)
    expect(await acksFor([1_000, 2_000, 3_000, 4_000, 5_000])).toEqual([5_000]);
  });

  test("a long run is acked every 1 000 messages shown, then at its end", async () => {
    const seqs = Array.from({ length: 2_500 }, (_, i) => 7 + 3 * i);
    expect(await acksFor(seqs)).toEqual([seqs[999], seqs[1_999], seqs[2_499]]);
  });
});
