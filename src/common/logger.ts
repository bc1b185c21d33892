/** Debug log on stderr, silent unless enabled (-d). */
export interface Logger {
  debug(msg: string): void;
  readonly enabled: boolean;
}

export function makeLogger(enabled: boolean, name: string): Logger {
  return {
    enabled,
    debug(msg: string) {
      if (enabled) process.stderr.write(`${new Date().toISOString()} ${name}: ${msg}\n`);
    },
  };
}

export const silentLogger: Logger = { enabled: false, debug() {} };
