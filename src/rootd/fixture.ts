/**
 * Test fixture for bangerd-root: a network namespace, a temporary non-root owner (and a third user),
 * and the real helper started as root inside the namespace with flags (no install record). Calls are
 * made as a given user through `runuser` and the real client. Not imported by production code;
 * `destroy()` stops the helper (by pid), deletes the namespace and the users, and restores
 * /dev/net/tun's mode (the helper opens it up for the owner).
 */
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run, spawnProcess, type ProcessHandle } from '../host/exec.js';
import { REPO } from '../testing/fixture.js';
import { TUN_DEVICE } from './tun.js';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
}

export async function createTestUser(prefix: string): Promise<TestUser> {
  const name = `${prefix}${process.pid % 100000}${Math.floor(Math.random() * 1000)}`.slice(0, 30);
  await run(['useradd', '--no-create-home', '--shell', '/usr/sbin/nologin', '--user-group', name]);
  const id = (flag: string) => run(['id', flag, name]).then((r) => Number(r.stdout.trim()));
  return { name, uid: await id('-u'), gid: await id('-g') };
}

export async function removeTestUser(u: TestUser | undefined): Promise<void> {
  if (!u) return;
  // Anything still running as the user (a leak from a failed test) is ended first, by uid.
  const pids = (await run(['pgrep', '-u', String(u.uid)], { check: false })).stdout.split('\n').map(Number).filter((p) => p > 0);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await run(['userdel', u.name], { check: false });
}

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
    await removeTestUser(owner);
    await removeTestUser(other);
    chmodSync(TUN_DEVICE, tunMode);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await run(['ip', 'netns', 'add', ns]);
    await run(['ip', 'link', 'set', 'lo', 'up'], { netns: ns });
    owner = await createTestUser('btown');
    other = await createTestUser('btoth');
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
