import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../host/exec.js';
import { generateHostKey } from './hostkey.js';
import { identityCommand, newMachineId, parseIdentityReport, type IdentityPlan } from './identity.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/**
 * A fake guest root. `perl: true` runs the host's real perl (the fast path); `perl: false` hides it
 * so the shell fallback runs, with stub `date` and `ip` that log their argv.
 */
function fakeGuest(opts: { perl: boolean; defaultDev?: string }) {
  const root = mkdtempSync(join(tmpdir(), 'banger-ident-'));
  dirs.push(root);
  for (const d of ['etc/ssh', 'dev', 'proc/sys/kernel', 'proc/net', 'var/lib/dbus', 'bin']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'etc/hosts'), '127.0.0.1\tlocalhost\n127.0.1.1\ttemplate\n10.0.0.9\tmy-db\n');
  writeFileSync(join(root, 'etc/hostname'), 'template\n');
  writeFileSync(join(root, 'etc/machine-id'), 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n');
  writeFileSync(join(root, 'var/lib/dbus/machine-id'), 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n');
  writeFileSync(join(root, 'etc/ssh/ssh_host_ed25519_key'), 'OLD PRIVATE\n');
  writeFileSync(join(root, 'dev/urandom'), '');
  writeFileSync(join(root, 'proc/sys/kernel/hostname'), 'template');
  const route = opts.defaultDev
    ? `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n${opts.defaultDev}\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n${opts.defaultDev}\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n`
    : 'Iface\tDestination\tGateway \tFlags\n';
  writeFileSync(join(root, 'proc/net/route'), route);
  const log = join(root, 'calls.log');
  writeFileSync(log, '');
  const stub = (name: string, body: string) => {
    writeFileSync(join(root, 'bin', name), `#!/bin/sh\nprintf '%s\\n' "${name} $*" >> ${log}\n${body}\n`);
    chmodSync(join(root, 'bin', name), 0o755);
  };
  stub('date', 'exit 0');
  stub('sync', 'exit 0');
  stub('ip', opts.defaultDev ? `[ "$1 $2 $3" = "route show default" ] && echo "default via 10.0.2.2 dev ${opts.defaultDev} proto static"; exit 0` : 'exit 0');
  // Without perl on PATH: only the tools the shell version needs.
  for (const tool of ['sed', 'cat', 'chmod', 'mv']) symlinkSync(`/usr/bin/${tool}`, join(root, 'bin', tool));
  return {
    root,
    read: (p: string) => readFileSync(join(root, p), 'utf8'),
    mode: (p: string) => statSync(join(root, p)).mode & 0o777,
    calls: () => readFileSync(log, 'utf8').trim().split('\n').filter(Boolean),
    exec: (plan: IdentityPlan) => {
      const cmd = identityCommand(plan);
      const path = opts.perl ? `${join(root, 'bin')}:/usr/bin:/bin` : join(root, 'bin');
      return run(['/bin/sh', ...cmd.argv.slice(1)], { input: cmd.stdin, check: false, env: { PATH: path, BANGER_ROOT: root } });
    },
  };
}

const entropy = Buffer.alloc(64, 7);

describe('identity refresh script', () => {
  const fresh = (key: ReturnType<typeof generateHostKey>) => ({ hostname: 'fork-1', machineId: 'b'.repeat(32), mac: '52:54:00:01:02:03', hostKey: key });

  it.each([
    ['perl (one process)', true],
    ['the shell fallback', false],
  ])('with %s: new name, machine-id, MAC and host key; user entries of /etc/hosts kept', async (_how, perl) => {
    const g = fakeGuest({ perl, defaultDev: 'eth0' });
    const key = generateHostKey('root@fork-1');
    const r = await g.exec({ nowMs: 1_700_000_000_123, entropy, fresh: fresh(key) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // A plain file is not the random device: the reseed ioctls fail and the entropy is mixed in.
    // The new identity is flushed to disk before `done` (perl: syncfs(2); shell: sync -f, below).
    expect(parseIdentityReport(r.stdout)).toEqual({ reseeded: false, synced: true, done: true });
    expect(readFileSync(join(g.root, 'dev/urandom')).length).toBeGreaterThan(0);
    expect(g.read('proc/sys/kernel/hostname')).toBe('fork-1');
    expect(g.read('etc/hostname')).toBe('fork-1\n');
    // the template's 127.0.1.1 line is replaced; the user's own entries stay
    expect(g.read('etc/hosts')).toBe('127.0.0.1\tlocalhost\n10.0.0.9\tmy-db\n127.0.1.1\tfork-1\n');
    expect(g.read('etc/machine-id')).toBe(`${'b'.repeat(32)}\n`);
    expect(g.read('var/lib/dbus/machine-id')).toBe(`${'b'.repeat(32)}\n`);
    const priv = key.privateKey.endsWith('\n') ? key.privateKey : `${key.privateKey}\n`;
    expect(g.read('etc/ssh/ssh_host_ed25519_key')).toBe(priv);
    expect(g.mode('etc/ssh/ssh_host_ed25519_key')).toBe(0o600);
    expect(g.read('etc/ssh/ssh_host_ed25519_key.pub')).toBe(`${key.publicLine}\n`);
    if (perl) {
      // The test root is not a guest: the clock and the NIC are left alone, the MAC step says what it would do.
      expect(r.stdout).toContain('banger-identity: mac eth0 52:54:00:01:02:03');
      expect(g.calls()).toEqual([]);
    } else {
      expect(g.calls()).toEqual([
        'date -u -s @1700000000.123',
        'ip route show default',
        'ip link set dev eth0 address 52:54:00:01:02:03',
        'ip neigh flush dev eth0',
        `sync -f ${g.root}/etc`,
      ]);
    }
  });

  it.each([
    ['perl', true],
    ['the shell fallback', false],
  ])("with %s on a root booted with banger's sshd: the host key goes to /.banger/state, /etc/ssh is left alone", async (_how, perl) => {
    const g = fakeGuest({ perl, defaultDev: 'eth0' });
    mkdirSync(join(g.root, '.banger/state'), { recursive: true });
    const key = generateHostKey('root@fork-1');
    const r = await g.exec({ nowMs: 1_700_000_000_123, entropy, fresh: fresh(key) });
    expect(r.code, r.stderr).toBe(0);
    expect(g.read('.banger/state/ssh_host_ed25519_key.pub')).toBe(`${key.publicLine}\n`);
    expect(g.mode('.banger/state/ssh_host_ed25519_key')).toBe(0o600);
    expect(g.read('etc/ssh/ssh_host_ed25519_key')).toBe('OLD PRIVATE\n');
    expect(existsSync(join(g.root, 'etc/ssh/ssh_host_ed25519_key.pub'))).toBe(false);
  });

  it('the shell fallback sets the clock with whole seconds when date refuses a fraction (busybox)', async () => {
    const g = fakeGuest({ perl: false, defaultDev: 'eth0' });
    writeFileSync(join(g.root, 'bin/date'), `#!/bin/sh\nprintf '%s\\n' "date $*" >> ${join(g.root, 'calls.log')}\ncase "$3" in *.*) exit 1 ;; esac\n`);
    const r = await g.exec({ nowMs: 1_700_000_000_123, entropy });
    expect(r.code, r.stderr).toBe(0);
    expect(g.calls().filter((c) => c.startsWith('date'))).toEqual(['date -u -s @1700000000.123', 'date -u -s @1700000000']);
  });

  it('flushes the new identity with syncfs(2) after its last rename, before reporting done (strace)', async (ctx) => {
    if (!existsSync('/usr/bin/strace')) return ctx.skip();
    const g = fakeGuest({ perl: true, defaultDev: 'eth0' });
    const cmd = identityCommand({ nowMs: 1_000, entropy, fresh: fresh(generateHostKey('root@fork-1')) });
    const trace = join(g.root, 'trace');
    const r = await run(['strace', '-f', '-qq', '-s', '4096', '-e', 'trace=rename,syncfs,write', '-o', trace, '/bin/sh', ...cmd.argv.slice(1)], {
      input: cmd.stdin,
      check: false,
      env: { PATH: '/usr/bin:/bin', BANGER_ROOT: g.root },
    });
    expect(r.code).toBe(0);
    const calls = readFileSync(trace, 'utf8').split('\n');
    const lastRename = calls.findLastIndex((l) => l.includes('rename(') && l.includes('ssh_host_ed25519_key.pub'));
    const sync = calls.findIndex((l) => /syncfs\(\d+\)\s+= 0/.test(l));
    const done = calls.findIndex((l) => l.includes('banger-identity: done'));
    expect(lastRename).toBeGreaterThan(-1);
    expect(sync).toBeGreaterThan(lastRename);
    expect(done).toBeGreaterThan(sync);
  });

  it.each([true, false])('resuming as itself (perl %s) only refreshes randomness (and the clock)', async (perl) => {
    const g = fakeGuest({ perl, defaultDev: 'eth0' });
    const r = await g.exec({ nowMs: 1_000, entropy });
    expect(r.code).toBe(0);
    expect(parseIdentityReport(r.stdout)).toEqual({ reseeded: false, synced: false, done: true });
    expect(g.read('etc/hostname')).toBe('template\n');
    expect(g.read('etc/machine-id')).toBe('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n');
    expect(g.read('etc/ssh/ssh_host_ed25519_key')).toBe('OLD PRIVATE\n');
    expect(r.stdout).not.toContain('mac');
    expect(g.calls().some((c) => c.startsWith('ip '))).toBe(false);
  });

  it('fails loudly when the host key does not arrive', async () => {
    const g = fakeGuest({ perl: true });
    const key = generateHostKey('root@fork-1');
    const cmd = identityCommand({ nowMs: 1_000, entropy, fresh: fresh(key) });
    const r = await run(['/bin/sh', ...cmd.argv.slice(1)], {
      input: `${entropy.toString('hex')}\n`,
      check: false,
      env: { PATH: '/usr/bin:/bin', BANGER_ROOT: g.root },
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('no host key on stdin');
    expect(parseIdentityReport(r.stdout).done).toBe(false);
  });

  it('keeps secrets off the command line and validates what reaches the guest', () => {
    const key = generateHostKey('root@x');
    const cmd = identityCommand({ nowMs: 0, entropy, fresh: { hostname: 'x', machineId: 'c'.repeat(32), mac: '52:54:00:aa:bb:cc', hostKey: key } });
    const argv = cmd.argv.join(' ');
    expect(argv).not.toContain(entropy.toString('hex'));
    expect(argv).not.toContain(key.privateKey.split('\n')[1]);
    expect(cmd.stdin.toString()).toContain(entropy.toString('hex'));
    expect(cmd.stdin.toString()).toContain('BEGIN OPENSSH PRIVATE KEY');
    const fresh = { hostname: 'x', machineId: 'c'.repeat(32), mac: '52:54:00:aa:bb:cc', hostKey: key };
    expect(() => identityCommand({ nowMs: 0, entropy, fresh: { ...fresh, hostname: 'bad name; rm -rf /' } })).toThrow(/not a valid host name/);
    expect(() => identityCommand({ nowMs: 0, entropy, fresh: { ...fresh, mac: 'zz' } })).toThrow(/MAC/);
    expect(() => identityCommand({ nowMs: 0, entropy: Buffer.alloc(8) })).toThrow(/entropy/);
  });

  it('makes random machine-ids', () => {
    expect(newMachineId()).toMatch(/^[0-9a-f]{32}$/);
    expect(newMachineId()).not.toBe(newMachineId());
  });
});
