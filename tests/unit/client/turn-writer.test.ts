import { describe, expect, test } from "bun:test";
import { TurnWriter } from "../../../src/client/turn-writer.ts";

function sink() {
  const writes: string[] = [];
  return { writes, out: (t: string) => void writes.push(t) };
}

describe("TurnWriter: what is written in one turn goes out in one write", () => {
  test("lines of one turn are joined, in order, and written once the turn is done", async () => {
    const { writes, out } = sink();
    const w = new TurnWriter(out);
    w.write("a: 1\n");
    w.write("b: 2\n");
    w.write("c: 3\n");
    expect(writes).toEqual([]);
    await Promise.resolve();
    expect(writes).toEqual(["a: 1\nb: 2\nc: 3\n"]);
  });

  test("each turn is its own write", async () => {
    const { writes, out } = sink();
    const w = new TurnWriter(out);
    w.write("first\n");
    await Promise.resolve();
    w.write("second\n");
    await Promise.resolve();
    expect(writes).toEqual(["first\n", "second\n"]);
  });

  test("flush writes out what is held at once, and nothing twice", async () => {
    const { writes, out } = sink();
    const w = new TurnWriter(out);
    w.write("Goodbye\n");
    w.flush();
    expect(writes).toEqual(["Goodbye\n"]);
    await Promise.resolve();
    w.flush();
    expect(writes).toEqual(["Goodbye\n"]);
  });

  test("output that flushes again (drawing flushes first) writes each text once", async () => {
    const writes: string[] = [];
    const w: TurnWriter = new TurnWriter((t) => {
      w.flush();
      writes.push(t);
    });
    w.write("x\n");
    w.flush();
    await Promise.resolve();
    expect(writes).toEqual(["x\n"]);
  });

  test("nothing written: no write at all", async () => {
    const { writes, out } = sink();
    const w = new TurnWriter(out);
    w.write("");
    await Promise.resolve();
    w.flush();
    expect(writes).toEqual([]);
  });
});
