/**
 * A compact message's ASCII text stays in its frame's bytes (src/protocol/frame-text.ts)
 * and is relayed as bytes: the same messages, the same frames, the same rules.
 */
import { describe, expect, test } from "bun:test";
import { decodeCompactClient, encodeCompactClient, encodeCompactServer } from "../../src/protocol/compact.ts";
import { FrameDecoder } from "../../src/protocol/frame.ts";
import { directMsg, MessageInFrame, MsgFromFrame } from "../../src/protocol/frame-text.ts";
import { encodeMessage, MAX_SERVER_FRAME, type ClientMsg, type ServerMsg } from "../../src/protocol/messages.ts";
import { MAX_FIELD_CHARS } from "../../src/protocol/schema.ts";
import { checkedBenches, msg } from "./hubkit.ts";
import { plain } from "./plain.ts";

type Message = Extract<ClientMsg, { t: "message" }>;

/** The message a server reads from the compact frame of `m`. */
function arrived(m: Message): ClientMsg | string {
  const [f] = new FrameDecoder(MAX_SERVER_FRAME).push(Buffer.from(encodeCompactClient(m)!));
  return decodeCompactClient(f!.body);
}

describe("decoding", () => {
  test("an ASCII text stays in the frame, and reads as the text that was sent", () => {
    const m: Message = { t: "message", id: 7, to: "yoda", text: "0042 hello there" };
    const got = arrived(m);
    expect(got).toBeInstanceOf(MessageInFrame);
    expect((got as Message).text).toBe(m.text);
    expect(JSON.parse(JSON.stringify(got))).toEqual(m);
  });

  test("a text with a byte over 0x7f is decoded at once, as any other", () => {
    const m: Message = { t: "message", id: 7, to: "yoda", text: "héllo 😀" };
    const got = arrived(m);
    expect(got).not.toBeInstanceOf(MessageInFrame);
    expect(got).toStrictEqual(m);
  });

  test("the empty text", () => {
    const got = arrived({ t: "message", id: 1, to: "yoda", text: "" });
    expect(plain(got)).toStrictEqual({ t: "message", id: 1, to: "yoda", text: "" });
  });

  test("an ASCII text over the field limit is refused, as a decoded one is", () => {
    expect(arrived({ t: "message", id: 1, to: "yoda", text: "a".repeat(MAX_FIELD_CHARS) })).toBeInstanceOf(MessageInFrame);
    expect(arrived({ t: "message", id: 1, to: "yoda", text: "a".repeat(MAX_FIELD_CHARS + 1) })).toBe("compact message: field too long");
  });
});

describe("relaying", () => {
  const m = arrived({ t: "message", id: 7, to: "yoda", text: "0042 hello there" }) as Message;
  const asString: ServerMsg = { t: "msg", from: "luke", text: "0042 hello there", kind: "direct" };

  test("to a version 3 client: the very frame the text as a string makes", () => {
    const relayed = directMsg("luke", m);
    expect(relayed).toBeInstanceOf(MsgFromFrame);
    expect([...encodeCompactServer(relayed)!]).toEqual([...encodeCompactServer(asString)!]);
  });

  test("to a JSON client: the same JSON", () => {
    expect(Buffer.from(encodeMessage(directMsg("luke", m))).toString()).toBe(Buffer.from(encodeMessage(asString)).toString());
  });

  test("a sender whose name has no compact form: JSON", () => {
    expect(encodeCompactServer(directMsg("lu\0ke", m))).toBeNull();
  });

  test("a message that was decoded at once relays as a plain msg", () => {
    const decoded = arrived({ t: "message", id: 7, to: "yoda", text: "é" }) as Message;
    expect(directMsg("luke", decoded)).toStrictEqual({ t: "msg", from: "luke", text: "é", kind: "direct" });
  });
});

describe("the hub's rules on a text still in its frame", () => {
  const bench = checkedBenches();
  /** `from` sends `text` to `to` as its compact frame reads; returns the reply. */
  function send(b: ReturnType<typeof bench>, sid: number, to: string, text: string, id: number): ServerMsg[] {
    const m = arrived({ t: "message", id, to, text });
    expect(m).toBeInstanceOf(MessageInFrame);
    b.hub.receive(sid, m as ClientMsg);
    return b.out.take(sid);
  }

  test("4096 bytes is shown, 4097 is too_long", () => {
    const b = bench();
    const h = b.online("hans");
    const y = b.online("yoda");
    b.out.take(h);
    expect(send(b, h, "yoda", "a".repeat(4096), 1)).toEqual([{ t: "reply", id: 1, code: "ok" }]);
    expect(b.out.take(y).map(plain)).toEqual([msg("hans", "a".repeat(4096), "direct")]);
    expect(send(b, h, "yoda", "a".repeat(4097), 2)).toEqual([{ t: "reply", id: 2, code: "too_long" }]);
    b.quiet(y);
  });

  test("for an offline user it is stored with its text, and shown at the next login", () => {
    const b = bench();
    const y = b.online("yoda");
    expect(send(b, y, "hans", "see you", 1)).toEqual([{ t: "reply", id: 1, code: "stored" }]);
    const h = b.greeted();
    const got = b.login(h, "hans", "falcon");
    expect(got.filter((x) => x.t === "msg").map((x) => (x as { text: string }).text)).toEqual(["see you"]);
  });
});
