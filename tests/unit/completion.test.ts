/**
 * Tab completion (src/client/completion.ts): what a Tab offers after each word.
 */
import { expect, test } from "bun:test";
import { COMMANDS } from "../../src/client/commands.ts";
import { complete } from "../../src/client/completion.ts";

const src = { usages: COMMANDS, users: ["yoda", "luke", "vader", "yoda"], sessions: ["luke"] };

test("first word: command names; a single match gets a space to type on", () => {
  expect(complete("mes", src)).toEqual([["message "], "mes"]);
  expect(complete("wh", src)).toEqual([["whoelse", "whoelsesince"], "wh"]);
  expect(complete("", src)[0]).toEqual(Object.keys(COMMANDS).sort());
  expect(complete("zzz", src)).toEqual([[], "zzz"]);
  expect(complete("Mes", src)).toEqual([[], "Mes"]); // commands are case-sensitive
});

test("a <user> argument: the users seen; private/stopprivate: the open sessions only", () => {
  expect(complete("message y", src)).toEqual([["yoda "], "y"]);
  expect(complete("block ", src)).toEqual([["luke", "vader", "yoda"], ""]);
  expect(complete("startprivate v", src)).toEqual([["vader "], "v"]);
  expect(complete("private ", src)).toEqual([["luke "], ""]);
  expect(complete("private y", src)).toEqual([[], "y"]);
  expect(complete("stopprivate l", src)).toEqual([["luke "], "l"]);
});

test("help completes command names; other words complete nothing", () => {
  expect(complete("help whoelses", src)).toEqual([["whoelsesince "], "whoelses"]);
  expect(complete("whoelsesince 1", src)).toEqual([[], "1"]);
  expect(complete("message yoda he", src)).toEqual([[], "he"]);
  expect(complete("broadcast y", src)).toEqual([[], "y"]); // <text>, not <user>
  expect(complete("  message  y", src)).toEqual([["yoda "], "y"]);
});
