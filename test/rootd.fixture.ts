/**
 * Test fixture for bangerd-root: a network namespace, a temporary non-root owner (and a third user),
 * and the real helper started as root inside the namespace with flags (no install record). Calls are
 * made as a given user through `runuser` and the real client. Not imported by production code;
 * `destroy()` stops the helper (by pid), deletes the namespace and the users, and restores
 * /dev/net/tun's mode (the helper opens it up for the owner).
 */
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run, spawnProcess, type ProcessHandle, type RunResult } from '../src/host/exec.js';
import { REPO } from './install.fixture.js';
import { createTempUser, type TempUser } from './tempuser.fixture.js';
import { TUN_DEVICE } from '../src/rootd/tun.js';

/** The helper's callers: temporary users from the shared fixture (test/tempuser.fixture.ts). */
export type TestUser = TempUser;

export type CallOutcome = { result: unknown } | { error: { code: string; message: string } };

export interface HelperRig {
  ns: string;
  dir: string;
  socket: string;
  installId: string;
  cidr: string;
  owner: TestUser;
  other: TestUser;
  helper(): ProcessHandle;
  start(): Promise<void>;
  kill9(): Promise<void>;
  /** Calls the helper as `user` (a TestUser, or 'root'). */
  call(user: TestUser | 'root', method: string, params?: unknown): Promise<CallOutcome>;
  inNs(argv: string[]): Promise<string>;
  log(): string;
  destroy(): Promise<void>;
}

const CLIENT = join(REPO, 'dist', 'rootd', 'client.js');

export async function helperRig(o: { cidr?: string; installId?: string } = {}): Promise<HelperRig> {
  const ns = `bt-rd-${process.pid}-${Math.floor(Math.random() * 1e4)}`;
  const tunMode = statSync(TUN_DEVICE).mode & 0o7777;
  const dir = mkdtempSync('/tmp/bt-rd-');
  chmodSync(dir, 0o755);
  const socket = join(dir, 'run', 'helper.sock');
  const logPath = join(dir, 'helper.log');
  const installId = o.installId ?? '0badcafe';
  const cidr = o.cidr ?? '172.30.7.0/24';
  let owner: TestUser | undefined;
  let other: TestUser | undefined;
  let proc: ProcessHandle | undefined;

  const destroy = async () => {
    if (proc && proc.pid > 0) {
      try {
        process.kill(proc.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await proc.exit.catch(() => undefined);
    }
    await run(['ip', 'netns', 'del', ns], { check: false });
    await owner?.remove();
    await other?.remove();
    chmodSync(TUN_DEVICE, tunMode);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await run(['ip', 'netns', 'add', ns]);
    await run(['ip', 'link', 'set', 'lo', 'up'], { netns: ns });
    owner = await createTempUser('btown', { subIds: false });
    other = await createTempUser('btoth', { subIds: false });
    const rig: HelperRig = {
      ns,
      dir,
      socket,
      installId,
      cidr,
      owner,
      other,
      helper: () => proc!,
      async start() {
        mkdirSync(dir, { recursive: true });
        const fd = openSync(logPath, 'a');
        try {
          proc = spawnProcess(
            [process.execPath, join(REPO, 'bin', 'bangerd-root'), '--socket', socket, '--owner-uid', String(owner!.uid), '--owner-gid', String(owner!.gid), '--install-id', installId, '--cidr', cidr, '--jailer-base', join(dir, 'jailer')],
            { netns: ns, stdio: ['ignore', fd, fd] },
          );
        } finally {
          closeSync(fd);
        }
        for (let i = 0; i < 100; i++) {
          const r = await rig.call('root', 'helper.status').catch(() => null);
          if (r && 'result' in r) return;
          await new Promise((res) => setTimeout(res, 100));
        }
        throw new Error(`bangerd-root did not answer: ${rig.log()}`);
      },
      async kill9() {
        process.kill(proc!.pid, 'SIGKILL');
        await proc!.exit;
      },
      async call(user, method, params = {}) {
        const script = `import { callHelper } from ${JSON.stringify(CLIENT)};
try { console.log(JSON.stringify({ result: await callHelper(process.argv[1], process.argv[2], JSON.parse(process.argv[3])) })); }
catch (e) { console.log(JSON.stringify({ error: { code: e.code, message: e.message } })); }`;
        const argv = [process.execPath, '--input-type=module', '-e', script, socket, method, JSON.stringify(params)];
        const r = await run(user === 'root' ? argv : ['runuser', '-u', user.name, '--', ...argv], { timeoutMs: 60_000 });
        return JSON.parse(r.stdout) as CallOutcome;
      },
      inNs: async (argv) => (await run(argv, { netns: ns, check: false })).stdout,
      log: () => {
        try {
          return readFileSync(logPath, 'utf8');
        } catch {
          return '';
        }
      },
      destroy,
    };
    return rig;
  } catch (err) {
    await destroy();
    throw err;
  }
}

export interface OwnerInstall {
  root: string;
  stateDir: string;
  runtimeDir: string;
  env: Record<string, string>;
  /** The real CLI as the owner, inside the namespace (a daemon it autostarts runs there, as the owner). */
  cli(args: string[], opts?: { timeoutMs?: number; helper?: boolean }): Promise<RunResult>;
  daemonPid(): number | null;
  destroy(): Promise<void>;
}

/**
 * A banger install owned by the rig's owner, seeded with copies of the golden kernel and image (chowned
 * to the owner: QEMU reads them as the owner), its CLI and daemon run as the owner inside the namespace
 * with BANGER_HELPER_SOCKET pointing at the rig's helper.
 */
export async function ownerInstall(rig: HelperRig, golden: string): Promise<OwnerInstall> {
  const root = mkdtempSync('/tmp/bt-ow-');
  const stateDir = join(root, 'state', 'banger');
  const runtimeDir = join(root, 'run', 'banger');
  const env: Record<string, string> = {
    HOME: root,
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    XDG_CONFIG_HOME: join(root, 'config'),
    XDG_STATE_HOME: join(root, 'state'),
    XDG_CACHE_HOME: join(root, 'cache'),
    XDG_RUNTIME_DIR: join(root, 'run'),
    BANGER_LOG_LEVEL: 'debug',
  };
  const cli: OwnerInstall['cli'] = (args, o = {}) => {
    const vars = { ...env, ...(o.helper === false ? {} : { BANGER_HELPER_SOCKET: rig.socket }) };
    const argv = ['runuser', '-u', rig.owner.name, '--', 'env', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`), process.execPath, join(REPO, 'bin', 'banger'), ...args];
    return run(argv, { netns: rig.ns, check: false, timeoutMs: o.timeoutMs ?? 900_000 });
  };
  const daemonPid = () => {
    try {
      return Number(readFileSync(join(runtimeDir, 'bangerd.pid'), 'utf8')) || null;
    } catch {
      return null;
    }
  };
  const destroy = async () => {
    const list = await cli(['vm', 'list', '--json']).catch(() => null);
    if (list && list.code === 0) {
      for (const v of JSON.parse(list.stdout) as Array<{ name: string }>) await cli(['vm', 'delete', v.name]);
    }
    await cli(['daemon', 'stop']).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    chmodSync(root, 0o755);
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const gState = join(golden, 'state', 'banger');
    for (const d of ['kernels', 'images', 'banger.db', 'banger.db-wal']) {
      if (existsSync(join(gState, d))) await run(['cp', '-a', '--sparse=always', join(gState, d), join(stateDir, d)]);
    }
    mkdirSync(join(stateDir, 'ssh'), { recursive: true, mode: 0o700 });
    for (const f of ['id_ed25519', 'id_ed25519.pub']) {
      if (existsSync(join(gState, 'ssh', f))) copyFileSync(join(gState, 'ssh', f), join(stateDir, 'ssh', f));
    }
    await run(['chown', '-R', `${rig.owner.uid}:${rig.owner.gid}`, root]);
    return { root, stateDir, runtimeDir, env, cli, daemonPid, destroy };
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
}
