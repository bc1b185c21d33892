/**
 * Every user-facing text of the client, in one place (behaviour.md §3–§6 wording).
 * Tests check these strings; change wording here only.
 */
import { stripControls } from "../common/sanitize.ts";

export const T = {
  usernamePrompt: "Username: ",
  passwordPrompt: "Password: ",
  welcome: "Welcome to the greatest messaging application ever!",
  invalidUsername: "Invalid Username. Please try again",
  invalidPassword: "Invalid Password. Please try again",
  lockedNow: "Invalid Password. Your account has been blocked. Please try again later",
  blocked: "Your account is blocked due to multiple login failures. Please try again later",
  alreadyOnline: (u: string) => `Error. ${u} is already logged in`,
  goodbye: "Goodbye",
  timedOut: "You have been logged out due to inactivity",
  connectionLost: "Connection to server lost",
  // terminal only (docs/terminal.md)
  interruptAgain: "(To log out, press Ctrl-C again or Ctrl-D, or type logout)",

  invalidCommand: "Error. Invalid command",
  usage: (line: string) => `Error. Usage: ${line}`,
  invalidUser: "Error. Invalid user",
  tooLong: "Error. Message too long",
  storageFailure: "Error. Server storage failure, please try again later",

  chat: (from: string, text: string) => `${from}: ${text}`,
  offlineStored: (u: string) => `${u} is offline. Your message will be delivered when they log in`,
  recipientBlocked: "Your message could not be delivered as the recipient has blocked you",
  mailboxFull: (u: string) => `Error. ${u} has too many stored messages; yours was not stored`,
  messageSelf: "Error. Cannot message self",
  broadcastPartial: "Your message could not be delivered to some recipients",
  noOthersOnline: "No other users online",
  noOthersSince: (s: number) => `No other users online in the last ${s} seconds`,

  blockedUser: (u: string) => `${u} is blocked`,
  blockSelf: "Error. Cannot block self",
  alreadyBlocked: (u: string) => `Error. ${u} is already blocked`,
  unblockedUser: (u: string) => `${u} is unblocked`,
  unblockSelf: "Error. Cannot unblock self",
  notBlocked: (u: string) => `Error. ${u} was not blocked`,

  loggedIn: (u: string) => `${u} logged in`,
  loggedOut: (u: string) => `${u} logged out`,

  // peer to peer (behaviour.md §6)
  privateStarted: (u: string) => `Start private messaging with ${u}`,
  privateSelf: "Error. Cannot start private messaging with self",
  userOffline: (u: string) => `Error. ${u} is offline`,
  peerBlockedYou: (u: string) => `Error. ${u} has blocked you`,
  privateActive: (u: string) => `Error. Private messaging with ${u} is already active`,
  privateChat: (from: string, text: string) => `${from}(private): ${text}`,
  privateNotEnabled: (u: string) => `Error. Private messaging to ${u} not enabled`,
  peerGone: (u: string) => `Error. ${u} is no longer online`,
  privateStopped: (u: string) => `Stopped private messaging with ${u}`,
  peerStoppedPrivate: (u: string) => `${u} stopped private messaging with you`,
  noPrivateSession: (u: string) => `Error. No active private messaging session with ${u}`,
  privateEnded: (u: string) => `Private messaging with ${u} ended`,
  peerUnreachable: (u: string) => `Error. Cannot reach ${u} for private messaging`,

  // file sharing (behaviour.md §6)
  fileRegistered: (name: string, bytes: number, chunks: number) => `File ${name} registered (${bytes} bytes, ${chunks} chunks)`,
  fileAlreadyRegistered: (name: string) => `File ${name} already registered; your chunks are now available`,
  fileConflict: (name: string) => `Error. A different file named ${name} is already registered`,
  cannotRead: (path: string) => `Error. Cannot read ${path}`,
  fileAvailable: (name: string, users: string[]) => `File ${name} is available from: ${users.join(", ")}`,
  fileNotAvailable: (name: string) => `File ${name} is not available`,
  chunkAvailable: (c: number, name: string, users: string[]) => `Chunk ${c} of ${name} is available from: ${users.join(", ")}`,
  chunkNotAvailable: (c: number, name: string) => `Chunk ${c} of ${name} is not available`,
  chunkDownloaded: (c: number, name: string, u: string) => `Downloaded chunk ${c} of ${name} from ${u}`,
  lacksChunk: (u: string, c: number, name: string) => `Error. ${u} does not have chunk ${c} of ${name}`,
  chunkFailedVerification: (c: number, name: string, u: string) => `Error. Chunk ${c} of ${name} from ${u} failed verification`,
  fileDownloaded: (name: string, bytes: number, users: string[]) => `Downloaded ${name} (${bytes} bytes) from ${users.join(", ")}`,
  invalidFileName: "Error. Invalid file name",
  alreadyHaveChunk: (c: number, name: string) => `Error. You already have chunk ${c} of ${name}`,
  alreadyHaveFile: (name: string, bytes: number) => `You already have ${name} (${bytes} bytes)`,
  localNameTaken: (name: string) => `Error. Another file named ${name} is already in your files folder`,
  chunkFetchFailed: (c: number, name: string, u: string) => `Error. Could not fetch chunk ${c} of ${name} from ${u}`,
  downloadIncomplete: (name: string, missing: number[]) =>
    `Error. Download of ${name} incomplete: chunk${missing.length === 1 ? "" : "s"} ${missing.join(", ")} not available`,
  registryFull: "Error. The server cannot register more files now",
  notEnoughSpace: (name: string, bytes: number) => `Error. Not enough disk space for ${name} (${bytes} bytes)`,
  filesFolderUnusable: (dir: string, why: string) => `Error. Files folder ${dir} cannot be used (${why})`,
  // the live download line is formatted by progress.ts (it depends on the screen width)

  serverBusy: "Error. Server busy, please try again later",
  /** A reply code the request does not list; `busy` may answer any request (a cluster's shared state is unreachable). */
  unexpectedAnswer: (code: string) => (code === "busy" ? "Error. Server busy, please try again later" : `Error. Unexpected answer from server (${code})`),
  internalError: (what: string) => `Error. Something went wrong in the client (${what}); the session goes on`,

  // program-level errors (stderr)
  // `why` and `detail` may come from the server: stripped like any remote text.
  cannotConnect: (host: string, port: number, why: string) => `cannot connect to server at ${host}:${port} (${stripControls(why)})`,
  versionMismatch: (detail: string) => `server speaks another protocol version (${stripControls(detail)})`,
  // trust on first use (behaviour.md §10), on stderr
  newServer: (hostPort: string, fp: string, file: string) => `New server ${hostPort}, fingerprint ${fp} (remembered in ${file})`,
  cannotRemember: (file: string, why: string) => `warning: cannot write ${file} (${why}); the server will be new again next time`,
  identityChanged: (hostPort: string, fp: string, file: string) =>
    `Error. The identity of ${hostPort} has changed (now ${fp}). Someone may be intercepting the connection. If the server was given a new identity, remove its line from ${file}`,
  cannotReadKnown: (file: string, why: string) => `Error. Cannot read ${file} (${why})`,
  notThePinned: (hostPort: string, fp: string) => `Error. The identity of ${hostPort} is ${fp}, not the fingerprint given`,
  doesNotSpeakTls: (hostPort: string) => `Error. ${hostPort} does not speak TLS (started with --no-tls?)`,
  requiresTls: (hostPort: string) => `Error. ${hostPort} requires TLS`,
  badFingerprint: "--fingerprint takes SHA256: and 43 base64 characters, as the server prints it",
} as const;
