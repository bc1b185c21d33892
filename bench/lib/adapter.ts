/**
 * What a scenario needs from a chat protocol, so the same scenarios drive our
 * server, the null relay and IRC servers. A connection is logged in when
 * `login()` resolves; incoming chat messages reach `onMessage` only while
 * `listening` is true (the rest is framed and dropped undecoded, so bench
 * clients that only send, or only hold a connection, cost the loadgen little).
 */
export interface BenchConn {
  readonly user: string;
  /** Decode incoming chat messages and hand them to onMessage. */
  listening: boolean;
  onMessage: (from: string, text: string) => void;
  onClose: (reason: string) => void;
  /** Send `text` to one user. */
  send(to: string, text: string): void;
  /**
   * A direct message encoded once, to send many times with sendPrepared (the
   * same bytes send() would write: the loadgen's cost per message is then a
   * copy, and what it measures is the server).
   */
  prepare(to: string, text: string): Prepared;
  sendPrepared(p: Prepared): void;
  /** Send `text` to everyone in the broadcast group. */
  broadcast(text: string): void;
  /** Enter the broadcast group (IRC: join the channel; our protocol: nothing to do). */
  joinBroadcast(): Promise<void>;
  /** Frames/lines (chunks, once discarding) received so far (for "wait until quiet"). */
  readonly received: number;
  /**
   * From now on read and drop whatever arrives, undecoded (for clients that only
   * hold their place or only send: the loadgen then spends nothing on what they
   * never look at). There is no way back: the stream position is lost.
   */
  discard(): void;
  /**
   * Resolve once the server has handled everything this connection sent so far
   * (our protocol: the offline-message acks; a request answered after them).
   */
  settle?(): Promise<void>;
  close(): void;
}

/** What prepare() made: opaque to the scenarios. */
export type Prepared = { readonly to: string; readonly text: string };

export interface Adapter {
  readonly name: string;
  /**
   * Connect to 127.0.0.1:port and log in; resolves once the server has accepted the login.
   * With `onMessage`, the connection listens from the start (messages that arrive
   * right behind the login result, such as offline ones, are not missed).
   * `tls`: the port serves TLS; resolves after the handshake and the login.
   */
  login(port: number, user: string, pass: string, onMessage?: (from: string, text: string) => void, tls?: boolean): Promise<BenchConn>;
}
