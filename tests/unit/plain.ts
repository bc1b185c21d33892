/**
 * A decoded message as a plain object: a compact message's ASCII text may stay in
 * its frame's bytes (MessageInFrame, MsgFromFrame: classes with a getter), which
 * mean the same message as the plain one their toJSON gives.
 */
export function plain<T>(m: T): T {
  return m !== null && typeof m === "object" && "toJSON" in m ? (m as { toJSON(): T }).toJSON() : m;
}
