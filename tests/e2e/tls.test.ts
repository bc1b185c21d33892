/**
 * behaviour.md §10 through the compiled programs: what an eavesdropper between client and
 * server (or between two clients) records, trust on first use with its exact texts,
 * pinning, the TLS / no-TLS mismatch errors, and hashed credentials.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { readFileSync, statSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { cleanup, CREDENTIALS, freePort, loginClient, PASSWORDS, SERVER_BIN, startClient, startServer, tempDir, typeCredentials, WELCOME, type ClientProc } from "./harness.ts";
import { exitCode, expectReply } from "./helpers.ts";
import { P } from "./p2pkit.ts";
import { makeTestCa } from "./test-ca.ts";

const proxies: TCPSocketListener<any>[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) p.stop(true);
  await cleanup();
});

/**
 * A TCP proxy on 127.0.0.1 forwarding to `target`, recording every byte both ways.
 * `port` 0: any free port.
 */
function recordingProxy(target: number, port = 0): { port: number; recorded: () => Buffer } {
  const seen: Uint8Array[] = [];
  /** One side: the other side's socket (null until connected), bytes for it meanwhile, bytes the kernel has not taken. */
  type End = { other: Socket<End> | null; pending: Uint8Array[]; out: Uint8Array[] };
  const pipe = (to: Socket<End> | null, from: Socket<End>, chunk: Uint8Array) => {
    seen.push(new Uint8Array(chunk));
    if (!to) return void from.data.pending.push(new Uint8Array(chunk)); // far side not connected yet
    send(to, new Uint8Array(chunk));
  };
  const send = (s: Socket<End>, bytes: Uint8Array) => {
    s.data.out.push(bytes);
    flush(s);
  };
  const flush = (s: Socket<End>) => {
    const q = s.data.out;
    while (q.length) {
      const n = s.write(q[0]!);
      if (n < 0) return;
      if (n < q[0]!.byteLength) {
        q[0] = q[0]!.subarray(n);
        return;
      }
      q.shift();
    }
  };
  const listener = Bun.listen<End>({
    hostname: "127.0.0.1",
    port,
    socket: {
      open(inbound) {
        inbound.data = { other: null, pending: [], out: [] };
        void Bun.connect<End>({
          hostname: "127.0.0.1",
          port: target,
          data: { other: inbound, pending: [], out: [] },
          socket: {
            data: (out, chunk) => pipe(out.data.other, out, chunk),
            drain: flush,
            close: (out) => void out.data.other?.end(),
            error() {},
          },
        }).then(
          (out) => {
            inbound.data.other = out;
            for (const b of inbound.data.pending.splice(0)) send(out, b);
          },
          () => inbound.end(),
        );
      },
      data: (inbound, chunk) => pipe(inbound.data.other, inbound, chunk),
      drain: flush,
      close: (inbound) => void inbound.data.other?.end(),
      error() {},
    },
  });
  proxies.push(listener);
  return { port: listener.port, recorded: () => Buffer.concat(seen) };
}

const has = (rec: Buffer, text: string) => rec.includes(Buffer.from(text, "utf8"));

/** Log in through `port`, hans messaging yoda (direct) and broadcasting, yoda answering. */
async function chatThrough(port: number, direct: number, extra: string[] = []) {
  const hans = await loginClient(port, "hans", extra);
  const yoda = await loginClient(direct, "yoda", extra);
  await hans.out.waitFor("yoda logged in");
  hans.send("message yoda the-eagle-lands-at-midnight");
  await yoda.out.waitFor("hans: the-eagle-lands-at-midnight");
  hans.send("broadcast everyone-meet-at-the-bridge");
  await yoda.out.waitFor("hans: everyone-meet-at-the-bridge");
  yoda.send("message hans bring-the-blue-folder");
  await hans.out.waitFor("yoda: bring-the-blue-folder");
  hans.send("logout");
  expect(await exitCode(hans.proc)).toBe(0);
}
const SECRETS = [PASSWORDS.hans!, "the-eagle-lands-at-midnight", "everyone-meet-at-the-bridge", "bring-the-blue-folder"];

describe("an eavesdropper on the wire (behaviour.md §10)", () => {
  test("between client and server: neither the password nor any message text is in the recording", async () => {
    const s = await startServer();
    const proxy = recordingProxy(s.port);
    await chatThrough(proxy.port, s.port);
    const rec = proxy.recorded();
    expect(rec.byteLength).toBeGreaterThan(1000);
    for (const secret of SECRETS) expect({ secret, seen: has(rec, secret) }).toEqual({ secret, seen: false });
  });

  test("the same session with --no-tls on both ends: the recording shows them all (the proxy sees what crosses)", async () => {
    const s = await startServer({ extra: ["--no-tls"] });
    const proxy = recordingProxy(s.port);
    await chatThrough(proxy.port, s.port, ["--no-tls"]);
    const rec = proxy.recorded();
    for (const secret of SECRETS) expect({ secret, seen: has(rec, secret) }).toEqual({ secret, seen: true });
  });

  test("between two clients: private messages and a file's chunks are not in the recording", async () => {
    const s = await startServer();
    // yoda listens on `real`; a router would forward `advertised` to it: here the recording proxy does.
    const real = await freePort();
    const proxy = recordingProxy(real);
    const dir = tempDir("files-yoda-");
    const secretFile = "classified-chunk-text;".repeat(8000); // 176 000 bytes
    writeFileSync(join(dir, "plans.txt"), secretFile);
    const yoda = await loginClient(s.port, "yoda", ["--files", dir, "--peer-port", String(real), "--peer-advertise", String(proxy.port)]);
    const hans = await loginClient(s.port, "hans", ["--files", tempDir("files-hans-")]);
    await yoda.out.waitFor("hans logged in");
    await expectReply(yoda, "register plans.txt", "File plans.txt registered (176000 bytes, 10 chunks)");
    await expectReply(hans, "startprivate yoda", P.started("yoda"));
    hans.send("private yoda the-falcon-is-in-hangar-nine");
    await yoda.out.waitFor(P.chat("hans", "the-falcon-is-in-hangar-nine"));
    yoda.send("private hans copy-that-leaving-at-dawn");
    await hans.out.waitFor(P.chat("yoda", "copy-that-leaving-at-dawn"));
    hans.send("download plans.txt");
    await hans.out.waitFor("Downloaded plans.txt (176000 bytes) from yoda", 15_000);
    const rec = proxy.recorded();
    expect(rec.byteLength).toBeGreaterThan(176_000); // the file did cross the proxy...
    for (const secret of ["the-falcon-is-in-hangar-nine", "copy-that-leaving-at-dawn", "classified-chunk-text"]) {
      expect({ secret, seen: has(rec, secret) }).toEqual({ secret, seen: false }); // ...encrypted
    }
  }, 30_000);
});

/** A client with its own HOME (so its own known_servers), started against `port`. */
function clientIn(home: string, port: number, extra: string[] = []): ClientProc {
  return startClient(port, extra, { HOME: home, XDG_CONFIG_HOME: join(home, ".config") });
}
const knownFile = (home: string) => join(home, ".config", "termchat", "known_servers");
const fingerprintOf = async (s: { out: { waitFor(re: RegExp): Promise<string> } }) =>
  /fingerprint (SHA256:\S+)\)$/.exec(await s.out.waitFor(/^Listening on /))![1]!;

describe("trust on first use (behaviour.md §10)", () => {
  test("remembered once, silent after, a new identity on the same port refused, the old identity accepted again", async () => {
    const dir = tempDir("tofu-");
    const idFile = join(dir, "server-identity.pem");
    let s = await startServer({ extra: ["--identity", idFile] });
    const fp = await fingerprintOf(s);
    expect(statSync(idFile).mode & 0o777).toBe(0o600);
    const home = tempDir("home-");
    const file = knownFile(home);

    const first = clientIn(home, s.port);
    await first.err.waitFor(`New server 127.0.0.1:${s.port}, fingerprint ${fp} (remembered in ${file})`);
    await typeCredentials(first, "hans");
    await first.out.waitFor(WELCOME);
    expect(readFileSync(file, "utf8")).toBe(`127.0.0.1:${s.port} ${fp}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    first.send("logout");
    expect(await exitCode(first.proc)).toBe(0);

    const second = clientIn(home, s.port);
    await typeCredentials(second, "hans");
    await second.out.waitFor(WELCOME);
    second.send("logout");
    expect(await exitCode(second.proc)).toBe(0);
    expect(await second.err.rest()).toEqual([]);

    // Another identity on the same port: refused before anything is sent.
    const port = s.port;
    s.proc.kill();
    await s.proc.exited;
    s = await startServer({ port, extra: ["--identity", join(dir, "another.pem")] });
    const other = await fingerprintOf(s);
    expect(other).not.toBe(fp);
    const third = clientIn(home, port);
    expect(await exitCode(third.proc)).toBe(1);
    expect(await third.err.rest()).toEqual([
      `Error. The identity of 127.0.0.1:${port} has changed (now ${other}). Someone may be intercepting the connection. If the server was given a new identity, remove its line from ${file}`,
    ]);
    expect(third.out.seen.concat(await third.out.rest())).toEqual([]);
    expect(s.log.seen.concat(await s.log.drain(300)).some((l) => /login/.test(l))).toBe(false);
    expect(readFileSync(file, "utf8")).toBe(`127.0.0.1:${port} ${fp}\n`);

    // The server moved back to its identity file: accepted silently.
    s.proc.kill();
    await s.proc.exited;
    s = await startServer({ port, extra: ["--identity", idFile] });
    expect(await fingerprintOf(s)).toBe(fp);
    const fourth = clientIn(home, port);
    await typeCredentials(fourth, "hans");
    await fourth.out.waitFor(WELCOME);
    expect(await fourth.err.drain(200)).toEqual([]);
  }, 30_000);

  test("--fingerprint: the right one logs in and writes no file; a wrong one is refused", async () => {
    const s = await startServer();
    const fp = await fingerprintOf(s);
    const home = tempDir("home-");
    const ok = clientIn(home, s.port, ["--fingerprint", fp]);
    await typeCredentials(ok, "hans");
    await ok.out.waitFor(WELCOME);
    expect(existsSync(knownFile(home))).toBe(false);
    expect(await ok.err.drain(200)).toEqual([]);

    const wrong = "SHA256:" + "A".repeat(43);
    const bad = clientIn(home, s.port, ["--fingerprint", wrong]);
    expect(await exitCode(bad.proc)).toBe(1);
    expect(await bad.err.rest()).toEqual([`Error. The identity of 127.0.0.1:${s.port} is ${fp}, not the fingerprint given`]);
    expect(existsSync(knownFile(home))).toBe(false);
  });

  test("an operator's certificate (--tls-cert/--tls-key) from a CA: accepted for the address it names, silently; otherwise trusted on first use", async () => {
    const ca = await makeTestCa();
    const dir = tempDir("ca-");
    writeFileSync(join(dir, "ca.pem"), ca.cert);
    const withCa = (home: string) => ({ HOME: home, XDG_CONFIG_HOME: join(home, ".config"), NODE_EXTRA_CA_CERTS: join(dir, "ca.pem") });
    for (const [name, names, verified] of [
      ["ip", { ip: ["127.0.0.1"] }, true],
      ["dns", { dns: ["chat.example.org"] }, false], // a CA's certificate, but not for 127.0.0.1
    ] as const) {
      const leaf = await ca.issue(names);
      writeFileSync(join(dir, `${name}.pem`), leaf.cert);
      writeFileSync(join(dir, `${name}.key`), leaf.key, { mode: 0o600 });
      const s = await startServer({ extra: ["--tls-cert", join(dir, `${name}.pem`), "--tls-key", join(dir, `${name}.key`)] });
      const fp = await fingerprintOf(s);
      const home = tempDir("home-");
      const c = startClient(s.port, [], withCa(home));
      await typeCredentials(c, "hans");
      await c.out.waitFor(WELCOME);
      const notice = `New server 127.0.0.1:${s.port}, fingerprint ${fp} (remembered in ${knownFile(home)})`;
      expect({ name, err: await c.err.drain(200) }).toEqual({ name, err: verified ? [] : [notice] });
      expect({ name, remembered: existsSync(knownFile(home)) }).toEqual({ name, remembered: !verified });
      // Without the CA the same certificate is just a certificate: trust on first use.
      const bare = tempDir("home-");
      const d = startClient(s.port, [], { HOME: bare, XDG_CONFIG_HOME: join(bare, ".config") });
      await d.err.waitFor(`New server 127.0.0.1:${s.port}, fingerprint ${fp} (remembered in ${knownFile(bare)})`);
    }
  }, 20_000);

  test("a --no-tls client at a TLS server, and a TLS client at a --no-tls server: one line each, exit 1", async () => {
    const tls = await startServer();
    const plainClient = startClient(tls.port, ["--no-tls"]);
    expect(await exitCode(plainClient.proc)).toBe(1);
    expect(await plainClient.err.rest()).toEqual([`Error. 127.0.0.1:${tls.port} requires TLS`]);

    const plain = await startServer({ extra: ["--no-tls"] });
    expect(await plain.out.waitFor(/^Listening on /)).toBe(`Listening on 127.0.0.1:${plain.port} (no TLS)`);
    const tlsClient = startClient(plain.port);
    expect(await exitCode(tlsClient.proc)).toBe(1);
    expect(await tlsClient.err.rest()).toEqual([`Error. 127.0.0.1:${plain.port} does not speak TLS (started with --no-tls?)`]);
  });
});

test("a connection that never finishes the TLS handshake is closed by the login time limit", async () => {
  const s = await startServer({ extra: ["--login-timeout", "1"] });
  let closed = false;
  const sock = await Bun.connect({
    hostname: "127.0.0.1",
    port: s.port,
    socket: { data() {}, close: () => void (closed = true), end: () => void (closed = true), error() {} },
  });
  // Not one byte sent: no ClientHello. A second later the server drops it.
  for (let i = 0; i < 60 && !closed; i++) await Bun.sleep(100);
  expect(closed).toBe(true);
  sock.terminate();
});

describe("hashed passwords (behaviour.md §10)", () => {
  async function hashOf(password: string): Promise<string> {
    const p = Bun.spawn([SERVER_BIN, "--hash-password"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    p.stdin.write(password + "\n");
    p.stdin.end();
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    expect(code).toBe(0);
    return out.trim();
  }

  test("--hash-password output as a credentials line: logs in, locks out on wrong ones, and no password reaches the -d log", async () => {
    const hash = await hashOf("sesame-open-42");
    expect(hash).toMatch(/^\$argon2id\$/);
    const creds = join(tempDir("creds-"), "credentials.txt");
    writeFileSync(creds, `hans ${hash}\nyoda wise\n`);
    const s = await startServer({ credentials: creds, block: 2 });

    const good = startClient(s.port);
    await typeCredentials(good, "hans", "sesame-open-42");
    await good.out.waitFor(WELCOME);
    good.send("logout");
    expect(await exitCode(good.proc)).toBe(0);

    const bad = startClient(s.port);
    await typeCredentials(bad, "hans", "wrong-guess-1");
    await bad.out.waitFor("Invalid Password. Please try again");
    await bad.out.waitFor("Password:");
    bad.send("wrong-guess-2");
    await bad.out.waitFor("Invalid Password. Please try again");
    await bad.out.waitFor("Password:");
    bad.send("wrong-guess-3");
    await bad.out.waitFor("Invalid Password. Your account has been blocked. Please try again later");
    expect(await exitCode(bad.proc)).toBe(1);
    const blocked = startClient(s.port);
    await typeCredentials(blocked, "hans", "sesame-open-42");
    await blocked.out.waitFor("Your account is blocked due to multiple login failures. Please try again later");

    // The plain line beside it still works.
    const yoda = await loginClient(s.port, "yoda");
    yoda.send("logout");
    await exitCode(yoda.proc);
    const log = s.log.seen.concat(await s.log.drain(300)).join("\n");
    expect(log).toContain("login");
    for (const secret of ["sesame-open-42", "wrong-guess-1", "wrong-guess-2", "wrong-guess-3", "wise", hash]) {
      expect({ secret, inLog: log.includes(secret) }).toEqual({ secret, inLog: false });
    }
  }, 20_000);
});
