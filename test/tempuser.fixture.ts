/**
 * Test fixture: a temporary non-root user with subordinate uid/gid ranges (rootless image builds),
 * a short home under /tmp, and a way to run the real banger CLI as that user with its own XDG dirs.
 * `remove()` ends every process of the user and deletes the user, its home and its ranges: nothing
 * of it outlives the test, also when the test failed half-way. Needs root (CI runs as root).
 */
import { mkdtempSync, chmodSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run, type RunResult } from '../src/host/exec.js';
import { REPO } from './install.fixture.js';

export interface TempUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** HOME, XDG_* and PATH for this user (the daemon it starts lives in `home`). */
  env: Record<string, string>;
  /** Runs argv as the user (runuser), with `env`. */
  run(argv: string[], opts?: { cwd?: string; input?: string; timeoutMs?: number; env?: Record<string, string> }): Promise<RunResult>;
  /** The real CLI as this user. */
  banger(args: string[], opts?: { cwd?: string; input?: string; timeoutMs?: number }): Promise<RunResult>;
  remove(): Promise<void>;
}

/** The next free 65536-wide subordinate range after every range in the files' texts (at least 100000). */
export function nextSubRange(texts: readonly string[]): number {
  let end = 100_000;
  for (const t of texts) {
    for (const line of t.split('\n')) {
      const [, start, count] = line.split(':');
      const e = Number(start) + Number(count);
      if (Number.isSafeInteger(e) && e > end) end = e;
    }
  }
  return end;
}

const read = (p: string) => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
};

/** `name`'s ranges in a subuid/subgid text, as usermod's `START-END` arguments. Pure. */
export function subRangesOf(text: string, name: string): string[] {
  return text
    .split('\n')
    .map((l) => l.split(':'))
    .filter(([n, start, count]) => n === name && Number.isSafeInteger(Number(start)) && Number(count) > 0)
    .map(([, start, count]) => `${start}-${Number(start) + Number(count) - 1}`);
}

/** Drops `name`'s subordinate ranges through usermod (its locking), since userdel does not on every version. */
async function dropSubRanges(name: string): Promise<void> {
  for (const r of subRangesOf(read('/etc/subuid'), name)) await run(['usermod', '--del-subuids', r, name], { check: false });
  for (const r of subRangesOf(read('/etc/subgid'), name)) await run(['usermod', '--del-subgids', r, name], { check: false });
}

/** A rootless bootstrap's temporary root in /tmp, should a failure have left one (owned by the user). */
function dropBootstrapLeftovers(uid: number): void {
  for (const n of readdirSync('/tmp').filter((x) => x.startsWith('banger-mmdebstrap-'))) {
    try {
      if (statSync(join('/tmp', n)).uid === uid) rmSync(join('/tmp', n), { recursive: true, force: true });
    } catch {
      // gone meanwhile
    }
  }
}

export interface TempUserOptions {
  /** Give the user subordinate uid/gid ranges (rootless image builds). @default true */
  subIds?: boolean;
}

export async function createTempUser(prefix = 'bgt', opts: TempUserOptions = {}): Promise<TempUser> {
  const name = `${prefix}${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`.slice(0, 31);
  // Short: the user's runtime dir holds unix sockets (108-byte limit).
  const home = mkdtempSync('/tmp/bu-');
  chmodSync(home, 0o755);
  const user: TempUser = {
    name,
    uid: -1,
    gid: -1,
    home,
    env: {},
    run: (argv, opts = {}) =>
      run(['runuser', '-u', name, '--', 'env', '-i', ...Object.entries({ ...user.env, ...opts.env }).map(([k, v]) => `${k}=${v}`), ...argv], {
        cwd: opts.cwd ?? home,
        input: opts.input,
        check: false,
        timeoutMs: opts.timeoutMs ?? 900_000,
      }),
    banger: (args, opts) => user.run([process.execPath, join(REPO, 'bin', 'banger'), ...args], opts),
    async remove() {
      // The daemon first (it may be mid-request), then anything else the user still runs.
      await user.banger(['daemon', 'stop'], { timeoutMs: 60_000 }).catch(() => undefined);
      for (let i = 0; i < 20; i++) {
        const r = await run(['pkill', '-9', '-u', name], { check: false });
        if (r.code === 1) break; // nothing left
        await new Promise((res) => setTimeout(res, 250));
      }
      await dropSubRanges(name);
      await run(['userdel', '-f', name], { check: false });
      if (user.uid >= 0) dropBootstrapLeftovers(user.uid);
      // Files a rootless build left owned by the user's subordinate ids are removable by root.
      rmSync(home, { recursive: true, force: true });
    },
  };
  try {
    await run(['useradd', '--no-create-home', '--home-dir', home, '--shell', '/bin/sh', '--user-group', name]);
    // useradd may have given ranges already (SUB_UID_COUNT in login.defs): drop them unless asked for.
    await dropSubRanges(name);
    if (opts.subIds !== false) {
      const start = nextSubRange([read('/etc/subuid'), read('/etc/subgid')]);
      await run(['usermod', '--add-subuids', `${start}-${start + 65535}`, '--add-subgids', `${start}-${start + 65535}`, name]);
    }
    const id = await run(['id', '-u', name]);
    const gid = await run(['id', '-g', name]);
    user.uid = Number(id.stdout.trim());
    user.gid = Number(gid.stdout.trim());
    await run(['chown', `${name}:${name}`, home]);
    user.env = {
      HOME: home,
      USER: name,
      LOGNAME: name,
      PATH: `${join(process.execPath, '..')}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      XDG_CONFIG_HOME: join(home, 'config'),
      XDG_STATE_HOME: join(home, 'state'),
      XDG_CACHE_HOME: join(home, 'cache'),
      XDG_RUNTIME_DIR: join(home, 'run'),
      BANGER_LOG_LEVEL: 'debug',
    };
  } catch (err) {
    await user.remove();
    throw err;
  }
  return user;
}
