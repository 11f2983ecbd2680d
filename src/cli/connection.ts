/**
 * How the CLI reaches bangerd: call it on its socket; when nothing listens there, start the daemon
 * (detached, logging to the state dir), wait until it answers and make the call then. On a system
 * install owned by this user (`sudo banger system install`) it talks to the system daemon's socket
 * and never starts one.
 *
 * `createConnection` is made once per CLI process (cli/context.ts): the target is resolved once, and
 * a running daemon costs no extra round trip (no `daemon.status` probe before the call; a refused
 * or missing socket means nothing was sent, so the call is simply made again once bangerd is up).
 * The API client and the schemas of the method called are imported by the call, not at start-up.
 */
import { closeSync, fstatSync, lstatSync, openSync, mkdirSync, readSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CallOpts } from '../api/client.js';
import { BangerError } from '../api/errors.js';
import type { MethodName, ParamsOf, ResultOf } from '../api/methods.js';
import { checkPrivateDir } from '../host/privatefile.js';
import { systemPaths, type Paths } from '../store/paths.js';
import { readInstallRecord, type InstallRecord } from '../system/record.js';
import { createProgressView } from './progress.js';
import { withVersionSkewHint } from './skew.js';

/**
 * The system install this CLI uses: the install record when its owner is this user, unless
 * BANGER_NO_SYSTEM is set (then the private, autostarted daemon as without an install).
 */
export function systemInstall(env = process.env): InstallRecord | null {
  if (env.BANGER_NO_SYSTEM) return null;
  const r = readInstallRecord(systemPaths(env).installRecord);
  return r && r.uid === process.getuid?.() ? r : null;
}

export interface DaemonTarget {
  socket: string;
  system: InstallRecord | null;
}

const DAEMON_ENTRY = join(dirname(fileURLToPath(import.meta.url)), '..', 'daemon', 'main.js');

/** The socket refused or missing: nothing was sent, so the call can be made again. */
function unreachable(err: unknown): boolean {
  const errno = err instanceof BangerError ? (err.details?.errno as string | undefined) : undefined;
  return errno === 'ENOENT' || errno === 'ECONNREFUSED';
}

/**
 * Before a byte is sent: the private runtime dir must be ours (0700, not a link) and the socket
 * in it ours too (or root's, for the system install's socket), so a socket another user planted
 * never receives a request. A missing socket is fine (the daemon is started).
 */
export function checkDaemonSocket(runtimeDir: string, socket: string, system: InstallRecord | null, uid = process.getuid?.() ?? 0): void {
  if (!system && !checkPrivateDir(runtimeDir, 'runtime directory', uid)) return; // none yet: the daemon makes it
  let st;
  try {
    st = lstatSync(socket);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const allowed = system ? [uid, 0] : [uid];
  if (!st.isSocket() || !allowed.includes(st.uid)) {
    throw new BangerError(
      'conflict',
      `${socket} is ${st.isSocket() ? `a socket owned by uid ${st.uid}` : 'not a socket'}, not bangerd's (uid ${allowed.join(' or ')}); refusing to talk to it. Remove it if you know where it came from, and check who else can write to ${dirname(socket)}`,
      { details: { path: socket } },
    );
  }
}

/** Starts a private bangerd (for `paths`) after a call found nothing listening at `target`, and waits until it answers. */
async function startDaemon(paths: Paths, target: DaemonTarget, cause: unknown): Promise<void> {
  const { socket, system } = target;
  if (system) {
    throw new BangerError('unavailable', `the system bangerd (bangerd.service, owner ${system.owner}) does not answer on ${socket}; run \`sudo banger system restart\` and see \`banger system status\` (or set BANGER_NO_SYSTEM=1 for a private daemon)`, { cause });
  }
  const [{ call }, { ALREADY_RUNNING_EXIT }, { spawnProcess }] = await Promise.all([import('../api/client.js'), import('../api/daemon.js'), import('../host/exec.js')]);
  mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
  const outPath = join(paths.stateDir, 'bangerd.out');
  const out = openSync(outPath, 'a');
  const from = fstatSync(out).size; // what this start writes comes after
  const daemon = spawnProcess([process.execPath, DAEMON_ENTRY], { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  let exited: number | null = null;
  void daemon.exit.then((code) => (exited = code), () => (exited = -1));
  const deadline = Date.now() + 20_000;
  let last: unknown;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 150));
    // It exited instead of answering (a bad config.toml, say): say why, now, in its own words.
    // (Exiting because another bangerd holds the install's lock is fine: keep waiting for that one.)
    if (exited !== null && exited !== ALREADY_RUNNING_EXIT) {
      try {
        await call(paths.daemonSocket, 'daemon.status', {});
        return;
      } catch {
        throw new BangerError('unavailable', `bangerd could not start (exit ${exited}): ${startupError(paths, outPath, from)}`);
      }
    }
    try {
      const status = await call(paths.daemonSocket, 'daemon.status', {});
      // Another CLI's daemon won the race for the install's lock: ours is still retrying for it and
      // would take over whenever that one stops (a `daemon stop`), a daemon nobody asked for. End it
      // (it has no handlers yet: the signal just ends it).
      if (exited === null && status.pid !== daemon.pid) daemon.kill('SIGTERM');
      return;
    } catch (err) {
      last = err;
      if (!unreachable(err)) throw err;
    }
  }
  throw new BangerError('unavailable', `bangerd did not start within 20s; see ${paths.daemonLog} and ${join(paths.stateDir, 'bangerd.out')}`, { cause: last });
}

/** What bangerd wrote to bangerd.out from byte `from` on: its `bangerd: <message>` line, else the last lines. */
function startupError(paths: Paths, outPath: string, from: number): string {
  let text = '';
  try {
    const fd = openSync(outPath, 'r');
    try {
      const buf = Buffer.alloc(Math.min(64 * 1024, Math.max(0, fstatSync(fd).size - from)));
      readSync(fd, buf, 0, buf.length, from);
      text = buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    // fall through to the pointer below
  }
  const lines = text.trim().split('\n').filter(Boolean);
  const own = lines.findIndex((l) => l.startsWith('bangerd: '));
  if (own >= 0) return lines.slice(own, own + 12).join('\n').slice('bangerd: '.length);
  return lines.length ? `${lines.slice(-12).join('\n')}\n(see ${outPath})` : `no message; see ${outPath} and ${paths.daemonLog}`;
}

export interface ApiOpts extends CallOpts {
  /** Draw progress events on stderr. @default true */
  progress?: boolean;
  /** Final line after success, e.g. "ready in 9.1s". */
  doneLine?: (elapsedMs: number) => string | undefined;
}

export type Api = <M extends MethodName>(method: M, params: ParamsOf<M>, opts?: ApiOpts) => Promise<ResultOf<M>>;

export interface Connection {
  /** Where bangerd listens for this CLI (resolved at the first use, then kept). */
  target(): DaemonTarget;
  /** Calls one API method (starting bangerd when nothing listens) and renders its progress. */
  api: Api;
}

/** One per CLI process. A failed start is not remembered: a later call tries again. */
export function createConnection(paths: Paths, env: NodeJS.ProcessEnv = process.env): Connection {
  let target: DaemonTarget | undefined;
  let starting: Promise<void> | undefined;
  // Concurrent calls that all found no daemon (vm delete a b c) share one start.
  const start = (cause: unknown) =>
    (starting ??= startDaemon(paths, conn.target(), cause).catch((err) => {
      starting = undefined;
      throw err;
    }));
  const conn: Connection = {
    target() {
      if (!target) {
        const system = systemInstall(env);
        const t = { socket: system ? system.daemonSocket : paths.daemonSocket, system };
        checkDaemonSocket(paths.runtimeDir, t.socket, t.system); // before any byte is sent to it
        target = t;
      }
      return target;
    },
    async api(method, params, opts = {}) {
      const socket = conn.target().socket;
      // Only the schemas of this method's group are built (api/lazymethods.ts), not the whole API's.
      const [{ call }, schemas] = await Promise.all([import('../api/client.js'), import('../api/lazymethods.js').then((m) => m.schemasFor(method))]);
      const once = async () => {
        const t0 = Date.now();
        const view = createProgressView(process.stderr, opts.progress === false);
        try {
          const result = await call(socket, method, params, { ...opts, onProgress: opts.onProgress ?? view.onProgress }, schemas);
          view.done(opts.doneLine?.(Date.now() - t0));
          return result;
        } catch (err) {
          view.done();
          throw withVersionSkewHint(err);
        }
      };
      if (starting) await starting;
      try {
        return await once();
      } catch (err) {
        if (!unreachable(err)) throw err;
        await start(err);
        return once();
      }
    },
  };
  return conn;
}
