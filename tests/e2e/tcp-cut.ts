/**
 * A TCP relay on 127.0.0.1 (OS-chosen port) in front of another local port, which a
 * test can cut: `cut()` closes every relayed connection and refuses new ones until
 * `restore()`. Lets one node lose Redis while the others keep it (a partition), or
 * come back later than the others after a Redis restart.
 */
import type { Socket, TCPSocketListener } from "bun";

export type TcpCut = { readonly port: number; cut(): void; restore(): void; close(): void };

type Side = { peer: Socket<Side> | null; pending: Uint8Array[] };

export function startTcpCut(targetPort: number): TcpCut {
  let isCut = false;
  const open = new Set<Socket<Side>>();
  const forward = (to: Socket<Side> | null, data: Uint8Array, pending: Uint8Array[]) => {
    // Test traffic is small: a short write is not expected; keep it simple and whole.
    if (to) to.write(data);
    else pending.push(new Uint8Array(data));
  };
  const listener: TCPSocketListener<Side> = Bun.listen<Side>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        if (isCut) return void client.end();
        client.data = { peer: null, pending: [] };
        open.add(client);
        Bun.connect<Side>({
          hostname: "127.0.0.1",
          port: targetPort,
          data: { peer: client, pending: [] },
          socket: {
            open(up) {
              open.add(up);
              client.data.peer = up;
              for (const chunk of client.data.pending.splice(0)) up.write(chunk);
            },
            data: (up, d) => forward(up.data.peer, d, []),
            close(up) {
              open.delete(up);
              up.data.peer?.end();
            },
            connectError: () => void client.end(),
          },
        }).catch(() => client.end());
      },
      data: (client, d) => forward(client.data.peer, d, client.data.pending),
      close(client) {
        open.delete(client);
        client.data?.peer?.end();
      },
    },
  });
  return {
    port: listener.port,
    cut() {
      isCut = true;
      for (const s of [...open]) s.end();
      open.clear();
    },
    restore() {
      isCut = false;
    },
    close() {
      this.cut();
      listener.stop(true);
    },
  };
}
