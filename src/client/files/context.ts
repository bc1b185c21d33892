/**
 * What the file-sharing commands share: the files folder, the registry client, the
 * peer links for chunk transfer, the screen. Built once per login (commands.ts).
 */
import type { Clock } from "../../common/clock.ts";
import type { Logger } from "../../common/logger.ts";
import { stripControls } from "../../common/sanitize.ts";
import type { ProgressOutput } from "../output.ts";
import { T } from "../texts.ts";
import type { ChunkLinks } from "./links.ts";
import type { Registry } from "./registry.ts";
import { LocalNameTaken, type FileStore } from "./store.ts";

export interface FilesCtx {
  readonly me: string;
  readonly store: FileStore;
  readonly registry: Registry;
  readonly links: ChunkLinks;
  readonly out: ProgressOutput;
  readonly log: Logger;
  readonly clock: Clock;
  /** True once the files folder is read and usable; else the reason is shown and false. */
  usable(): Promise<boolean>;
}

/** Show a command's result: texts starting "Error." are errors, the rest notices. */
export function say(out: ProgressOutput, text: string): void {
  out.print(text, text.startsWith("Error.") ? "error" : "notice");
}

/** User names as shown: controls stripped, sorted. */
export function shown(users: string[]): string[] {
  return users.map(stripControls).sort();
}

/** The text for a files-folder failure while starting or finishing a download. */
export function storeFailure(store: FileStore, name: string, e: unknown): string {
  return e instanceof LocalNameTaken ? T.localNameTaken(name) : T.filesFolderUnusable(store.dir, (e as Error).message);
}
