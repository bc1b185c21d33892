/**
 * `--redis <url>`: a server that is one node of a cluster. Its state lives in Redis
 * (shared with the other nodes), and the cluster bus (src/server/cluster/) carries
 * what it says to the other nodes: messages for their users, broadcasts, presence.
 */
import type { Clock } from "../../common/clock.ts";
import type { Logger } from "../../common/logger.ts";
import { ClusterBus, type BusOptions } from "../cluster/bus.ts";
import { RedisLink } from "../cluster/link.ts";
import type { HubContext, Router } from "../hub-context.ts";
import { reapNode, resyncOnline, routedIn } from "../routed.ts";
import type { SharedState } from "../state.ts";
import type { Store } from "../store.ts";
import { RedisFiles } from "./redis-files.ts";
import { RedisDirectory, RedisLockout, RedisTokens } from "./redis-state.ts";
import { redisStore } from "./redis-store.ts";

export type RedisState = { store: Store; shared: SharedState; link: RedisLink; bus: ClusterBus };

/**
 * Connect and join the cluster. Throws RedisBadUrl (a usage error) or
 * RedisConnectFailed ("Cannot reach Redis at <url>") from the cluster's errors.ts.
 */
export async function openRedisState(url: string, clock: Clock, blockMs: number, log: Logger, times: BusOptions = {}): Promise<RedisState> {
  const link = await RedisLink.open(url, { clock });
  const bus = await ClusterBus.start(link, { ...times, clock, logger: log });
  const shared: SharedState = {
    lockout: new RedisLockout(link, clock, blockMs),
    directory: new RedisDirectory(link),
    tokens: new RedisTokens(link, clock),
    files: new RedisFiles(link),
  };
  // Closing the store does not close the link: leaving the cluster (bus.stop) still needs it.
  return { store: redisStore(link, () => {}), shared, link, bus };
}

/** The hub's way to the other servers, over the bus. */
export function busRouter(bus: ClusterBus): Router {
  return {
    sendTo: (node, event) => bus.send(node, event),
    publish: (event) => bus.publish(event),
    isGone: async (node) => (await bus.nodeStatus(node)) === "gone",
  };
}

/**
 * What the bus brings goes to the hub: events from other servers, the cleanup of a
 * server that died (on the one server that won its reap). A server the others
 * declared dead (frozen or cut off too long) has had its users logged out for
 * everyone: it must not go on serving them, so it stops (a supervisor restarts it
 * as a new node).
 */
export function attachHub(bus: ClusterBus, link: RedisLink, hub: HubContext, fenced: () => void): void {
  bus.onEvent((event) => routedIn(hub, event));
  // Who is online elsewhere: read once now, again after each outage (events keep it after).
  const resync = () =>
    bus
      .liveNodes()
      .then((nodes) => resyncOnline(hub, nodes))
      .catch((e) => hub.log.debug(`cluster: online map resync failed: ${(e as Error).message}`));
  void resync();
  link.onUp(() => void resync());
  bus.onReap((id, unread) => reapNode(hub, id, unread));
  bus.onNodeDead((id) => {
    hub.log.debug(`cluster: server ${id} is dead`);
    hub.elsewhere?.nodeGone(id);
  });
  bus.onFenced(fenced);
}
