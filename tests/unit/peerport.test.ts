/** login.peerPort must be a TCP port (1–65535): anything else is a protocol violation. */
import { expect, test } from "bun:test";
import { decodeClient } from "../../src/protocol/messages.ts";

const obj = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const login = (peerPort?: number) => obj({ t: "login", user: "hans", pass: "falcon", ...(peerPort === undefined ? {} : { peerPort }) });

test("peerPort 1 and 65535 are accepted, absent too", () => {
  expect(decodeClient(login(1))).toMatchObject({ peerPort: 1 });
  expect(decodeClient(login(65535))).toMatchObject({ peerPort: 65535 });
  expect(decodeClient(login())).toEqual({ t: "login", user: "hans", pass: "falcon" });
});

test("peerPort 0, 65536 and beyond are refused with a one-line reason", () => {
  for (const p of [0, 65536, 70_000, 2 ** 40]) {
    expect(decodeClient(login(p))).toBe("login.peerPort: expected a TCP port from 1 to 65535");
  }
});
