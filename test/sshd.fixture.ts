/**
 * Test fixture: a real OpenSSH server on 127.0.0.1, a free port, its own host key and
 * authorized_keys, run as root (startTestSshd); and the "guest" the host tests build on it
 * (startTestSshGuest): a temp dir, banger's key pair authorized there, a known_hosts store and
 * GuestConnections to it, all undone by one close(). Used by the guest/ tests and by anything
 * (workspace/, daemon/, e2b/) that wants a real sshd without booting a VM. Not imported by production code.
 */
import { access, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { ensureKeyPair, generateEd25519, type KeyPair } from '../src/guest/keys.js';
import type { GuestConnection } from '../src/guest/connection.js';
import { KnownHostsStore } from '../src/guest/knownhostsstore.js';
import { connect as sshConnect, type ConnectOptions } from '../src/guest/ssh.js';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { run, spawnProcess, type ProcessHandle } from '../src/host/exec.js';
import { freePort } from '../src/host/freeport.js';
import { readStatAsync } from '../src/host/procstat.js';

const SSHD = '/usr/sbin/sshd';

/** Why a real sshd cannot run here (print it and skip), or null when it can. Installs openssh-server when missing. */
export async function sshdUnavailableReason(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'sshd tests need root (they log in as root to a private sshd)';
  if (!(await exists(SSHD))) {
    const r = await run(['apt-get', 'install', '-y', '--no-install-recommends', 'openssh-server'], { check: false, timeoutMs: 600_000 }).catch(
      (err: Error) => ({ code: -1, stderr: err.message }),
    );
    if (!(await exists(SSHD))) return `${SSHD} is missing and \`apt-get install openssh-server\` failed (${r.code}): ${r.stderr.trim().split('\n').pop()}`;
  }
  return null;
}

export interface TestSshd {
  readonly host: string;
  readonly port: number;
  /** Public host key blob (base64) sshd currently presents. */
  hostKey: string;
  /** Kills every connection's sshd process (simulates a dropped connection); the listener stays. */
  dropConnections(): Promise<void>;
  /** Stops and starts sshd on the same port, optionally with a fresh host key. */
  restart(opts?: { newHostKey?: boolean }): Promise<void>;
  stop(): Promise<void>;
  /** sshd's stderr so far, for failure messages. */
  log(): string;
}

export async function startTestSshd(opts: { dir: string; authorizedKeys: string }): Promise<TestSshd> {
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege separation directory
  const port = await freePort();
  const hostKeyPath = join(opts.dir, 'ssh_host_ed25519_key');
  const authorizedKeysPath = join(opts.dir, 'authorized_keys');
  const configPath = join(opts.dir, 'sshd_config');
  const homeDir = join(opts.dir, 'home');
  await mkdir(homeDir, { recursive: true });
  await writeFile(authorizedKeysPath, opts.authorizedKeys, { mode: 0o600 });
  await writeFile(
    configPath,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKeyPath}`,
      `AuthorizedKeysFile ${authorizedKeysPath}`,
      'PidFile none',
      'StrictModes no',
      'UsePAM no',
      'UseDNS no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'LogLevel ERROR',
      // bash run by sshd sources ~/.bashrc even for `bash -c`; the host root's may do slow or
      // blocking things (pyenv rehash waits on a lock). A guest's is Debian's default, so use an empty home.
      `SetEnv HOME=${homeDir}`,
      '',
    ].join('\n'),
  );

  let stderr = '';
  let proc: ProcessHandle | undefined;
  const state = { hostKey: '' };

  const writeHostKey = async () => {
    const pair = generateEd25519('test-sshd');
    await writeFile(hostKeyPath, pair.private, { mode: 0o600 });
    state.hostKey = pair.public.split(' ')[1];
  };

  const start = async () => {
    proc = spawnProcess([SSHD, '-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const deadline = Date.now() + 10_000;
    while (!(await listening(port))) {
      if (proc.child.exitCode !== null || Date.now() > deadline) throw new Error(`sshd did not start on port ${port}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const killTree = async (rootPid: number, includeRoot: boolean) => {
    const pids = await descendants(rootPid);
    for (const pid of [...pids, ...(includeRoot ? [rootPid] : [])]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };

  const stop = async () => {
    if (!proc) return;
    const p = proc;
    proc = undefined;
    await killTree(p.pid, false);
    p.kill('SIGKILL');
    await p.exit;
  };

  await writeHostKey();
  await start();
  return {
    host: '127.0.0.1',
    port,
    get hostKey() {
      return state.hostKey;
    },
    async dropConnections() {
      if (proc) await killTree(proc.pid, false);
    },
    async restart(o = {}) {
      await stop();
      if (o.newHostKey) await writeHostKey();
      await start();
    },
    stop,
    log: () => stderr,
  };
}

export interface TestSshGuest {
  /** The temp dir holding the key pair (ssh/), known_hosts (ssh/) and sshd's files; the test may add its own. */
  readonly dir: string;
  /** banger's key pair (ssh/id_ed25519), authorized for root on `sshd`. */
  readonly key: KeyPair;
  readonly sshd: TestSshd;
  /** The known_hosts (ssh/known_hosts) connect() checks against: the first connect of an alias records sshd's key. */
  readonly knownHosts: KnownHostsStore;
  /**
   * A real GuestConnection to `sshd` as root. Defaults: alias `web.vm`, `key`, `knownHosts`, 10 s
   * ready timeout; any ConnectOptions given win. close() closes it if the test did not.
   */
  connect(opts?: Partial<ConnectOptions>): Promise<GuestConnection>;
  /** Closes every connection connect() opened, stops sshd, removes `dir` when this fixture made it. */
  close(): Promise<void>;
}

/**
 * A key pair, a test sshd that accepts it, and connections to it: the setup every host test that
 * stands a local sshd in for a guest shares. `tmpPrefix` names the temp dir (under os.tmpdir()
 * unless absolute: a unix socket inside must stay short); or pass `dir` (and `key`) the test already
 * has, and close() leaves that dir alone. Nothing is left behind if starting fails.
 */
export async function startTestSshGuest(opts: { tmpPrefix?: string; dir?: string; key?: KeyPair } = {}): Promise<TestSshGuest> {
  const prefix = opts.tmpPrefix ?? 'banger-sshguest-';
  const ownsDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(isAbsolute(prefix) ? prefix : join(tmpdir(), prefix)));
  const removeDir = async () => {
    if (ownsDir) await rm(dir, { recursive: true, force: true });
  };
  let key: KeyPair;
  let sshd: TestSshd;
  try {
    key = opts.key ?? (await ensureKeyPair({ sshKey: join(dir, 'ssh', 'id_ed25519') }));
    sshd = await startTestSshd({ dir, authorizedKeys: `${key.publicKeyLine}\n` });
  } catch (err) {
    await removeDir();
    throw err;
  }
  const knownHosts = new KnownHostsStore(join(dir, 'ssh', 'known_hosts'));
  const opened: GuestConnection[] = [];
  return {
    dir,
    key,
    sshd,
    knownHosts,
    async connect(o = {}) {
      const conn = await sshConnect({ host: sshd.host, port: sshd.port, alias: 'web.vm', privateKey: key.privateKey, knownHosts, readyTimeoutMs: 10_000, ...o });
      opened.push(conn);
      return conn;
    },
    async close() {
      for (const conn of opened.splice(0)) if (!conn.closed) conn.close();
      await sshd.stop();
      await removeDir();
    },
  };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}


/** Does sshd answer with its banner? (A bare TCP accept is not enough.) */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = tcpConnect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.once('data', (b) => done(b.toString().startsWith('SSH-')));
    sock.once('error', () => done(false));
    sock.setTimeout(1000, () => done(false));
  });
}

/** Every process below `pid`, from /proc (children first is not needed: all get SIGKILL). */
async function descendants(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = (await readStatAsync(Number(name)))?.ppid ?? NaN;
    if (!parents.has(ppid)) parents.set(ppid, []);
    parents.get(ppid)!.push(Number(name));
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of parents.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}
