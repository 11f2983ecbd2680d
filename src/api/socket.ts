/**
 * Where a user's bangerd listens: part of the API's contract, so clients (the SDK) find it without
 * knowing banger's on-disk layout. store/paths.ts builds the runtime directory from the same
 * function; a system install's socket comes from its install record instead (cli/connection.ts).
 */
import { userInfo } from 'node:os';
import { join } from 'node:path';

/** The socket's file name inside the runtime directory. */
export const DAEMON_SOCKET_FILE = 'bangerd.sock';

/** `$XDG_RUNTIME_DIR/banger`, else `/tmp/banger-<uid>` (0700, made by the daemon). */
export function userRuntimeDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'banger') : join('/tmp', `banger-${userInfo().uid}`);
}

/** The private bangerd's socket for the user of `env`. */
export const daemonSocketPath = (env: Readonly<Record<string, string | undefined>> = process.env): string => join(userRuntimeDir(env), DAEMON_SOCKET_FILE);
