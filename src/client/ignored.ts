/**
 * Errors we mean to ignore are still logged with -d: a `.catch(ignored(log, what, v))`
 * says why the failure does not matter and leaves a trace when it happens.
 */
import type { Logger } from "../common/logger.ts";

export function ignored<T>(log: Logger, what: string, value: T): (e: unknown) => T {
  return (e) => {
    log.debug(`${what}: ${(e as NodeJS.ErrnoException)?.code ?? (e as Error)?.message ?? e} (ignored)`);
    return value;
  };
}
