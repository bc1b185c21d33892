/**
 * Overlapping messages: a session's messages that need not wait for each other.
 *
 * Why overlap at all: a session's requests are otherwise handled one at a time, so a
 * user sending to someone on another server has one message on the way per Redis
 * round trip, whatever their client's window (bench/cluster.ts measured 7k msgs/s for
 * 100 senders). Which requests may overlap is the rules' call (message-rules.ts
 * `sentWithoutWaiting`): those whose every effect is fixed, in order, when they are
 * handled. Everything else waits until the overlapping ones are all answered.
 */
import type { HubContext, Req, Session } from "./hub-context.ts";
import { message } from "./message-rules.ts";
import { OrderedReplies } from "./ordered-replies.ts";
import { outcome, sendReply } from "./replies.ts";

/**
 * A message handled while the sender's earlier ones still wait (the hub checked
 * `sentWithoutWaiting`); its reply goes out after theirs. `idle`: all answered,
 * the session's held frames may go on; `fail`: a rule's bug.
 */
export function overlapMessage(hub: HubContext, s: Session, msg: Req<"message">, idle: () => void, fail: (e: unknown) => void): void {
  s.replies ??= new OrderedReplies(idle, fail);
  const user = s.user!;
  s.replies.add(outcome(hub, s, () => message(hub, user, msg)), (r) => sendReply(hub, s, msg.id, r));
}
