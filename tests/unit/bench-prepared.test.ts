/**
 * The loadgen's prepared sends (bench/lib/*-adapter.ts) write the very bytes a plain
 * send writes — only encoded once — so the bench measures the same protocol. Each
 * adapter talks to a small fake server here that logs in and records what arrives.
 */
import { afterEach, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { chatAdapter } from "../../bench/lib/chat-adapter.ts";
import { ircAdapter } from "../../bench/lib/irc-adapter.ts";
import { decodeClientFrame, encodeCompactClient } from "../../src/protocol/compact.ts";
import { FrameDecoder } from "../../src/protocol/frame.ts";
import { encodeMessage, MAX_SERVER_FRAME, type ClientMsg } from "../../src/protocol/messages.ts";
import { plain } from "./plain.ts";

let listener: TCPSocketListener<unknown> | null = null;
afterEach(() => {
  listener?.stop(true);
  listener = null;
});

/** A server on 127.0.0.1 that answers with `reply(bytes so far, socket)` and keeps every byte it got. */
function fakeServer(onBytes: (all: Buffer, s: Socket<unknown>) => void): { port: number; got: () => Buffer } {
  let all = Buffer.alloc(0);
  listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(s, chunk) {
        all = Buffer.concat([all, chunk]);
        onBytes(all, s);
      },
    },
  });
  return { port: listener.port, got: () => all };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await Bun.sleep(10);
}

test("chat: prepared sends are the compact frames send() writes, with ids counting on", async () => {
  let answered = false;
  const srv = fakeServer((all, s) => {
    if (answered || !all.includes("login")) return;
    answered = true;
    s.write(encodeMessage({ t: "hello_ok", v: 3, maxFrame: 1 << 20 }));
    s.write(encodeMessage({ t: "login_result", code: "ok", user: "ann" }));
  });
  const c = await chatAdapter.login(srv.port, "ann", "pw");
  const before = srv.got().byteLength;
  const p = c.prepare("bob", "0001 hello");
  c.sendPrepared(p);
  c.sendPrepared(p);
  c.send("bob", "0001 hello");
  await until(() => srv.got().byteLength >= before + 3 * encodeCompactClient({ t: "message", id: 1, to: "bob", text: "0001 hello" })!.byteLength);
  c.close();
  const sent = srv.got().subarray(before);
  const frames = new FrameDecoder(MAX_SERVER_FRAME).push(sent);
  const msgs = frames.map((f) => plain(decodeClientFrame(f, true)) as ClientMsg);
  expect(msgs).toEqual([
    { t: "message", id: 1, to: "bob", text: "0001 hello" },
    { t: "message", id: 2, to: "bob", text: "0001 hello" },
    { t: "message", id: 3, to: "bob", text: "0001 hello" },
  ]);
  const one = encodeCompactClient({ t: "message", id: 1, to: "bob", text: "0001 hello" })!;
  expect(Buffer.from(sent.subarray(0, one.byteLength))).toEqual(Buffer.from(one));
});

test("irc: a prepared send is the PRIVMSG line send() writes", async () => {
  let answered = false;
  const srv = fakeServer((all, s) => {
    if (answered || !all.includes("USER")) return;
    answered = true;
    s.write(":irc 001 ann :welcome\r\n");
  });
  const c = await ircAdapter.login(srv.port, "ann", "pw");
  const before = srv.got().byteLength;
  c.sendPrepared(c.prepare("bob", "0001 hello"));
  c.send("bob", "0001 hello");
  const line = "PRIVMSG bob :0001 hello\r\n";
  await until(() => srv.got().byteLength >= before + 2 * line.length);
  c.close();
  expect(srv.got().subarray(before).toString()).toBe(line + line);
});
