/**
 * Where a user's bangerd listens: part of the API's contract, so clients (the SDK) find it without
 * knowing banger's on-disk layout. store/paths.ts builds the runtime directory from the same
 * function; a system install's socket comes from its install record instead (cli/connection.ts).
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';

/** The socket's file name inside the runtime directory. */
export const DAEMON_SOCKET_FILE = 'bangerd.sock';

type Env = Readonly<Record<string, string | undefined>>;

/** What the runtime dir depends on besides the environment (a table in tests). */
export interface RuntimeHostFacts {
  uid: number;
  exists(path: string): boolean;
}
const realHost = (): RuntimeHostFacts => ({ uid: process.getuid?.() ?? userInfo().uid, exists: existsSync });

/**
 * The runtime dir: $XDG_RUNTIME_DIR/banger; without it (the usual case under sudo) the login
 * manager's /run/user/<uid>/banger when that exists, else /tmp/banger-<uid> — a predictable name
 * another user can pre-create, which is why the daemon and the CLI check it before use
 * (host/privatefile.ts).
 */
export function userRuntimeDir(env: Env = process.env, host: RuntimeHostFacts = realHost()): string {
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'banger');
  const runUser = join('/run/user', String(host.uid));
  return host.exists(runUser) ? join(runUser, 'banger') : join('/tmp', `banger-${host.uid}`);
}

/** The private bangerd's socket for the user of `env`. */
export const daemonSocketPath = (env: Env = process.env, host?: RuntimeHostFacts): string => join(userRuntimeDir(env, host), DAEMON_SOCKET_FILE);
