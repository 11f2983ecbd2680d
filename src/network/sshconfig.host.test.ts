import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSshGuest, sshdUnavailableReason, type TestSshGuest } from '../../test/sshd.fixture.js';
import { spawnProcess } from '../host/exec.js';
import { addInclude, INCLUDE_BEGIN, INCLUDE_END, installInclude, removeInclude, renderSshConfig, sshEntries, uninstallInclude, writeIfChanged } from './sshconfig.js';

const id = { keyPath: '/state/ssh/id_ed25519', knownHostsPath: '/state/ssh/known_hosts' };

describe('sshEntries', () => {
  it('lists running user-mode VMs at their forwarded port and bridge VMs at their address', () => {
    const vms = [
      { name: 'web', state: 'running', network: { mode: 'user' }, ssh: { host: '127.0.0.1', port: 40022 } },
      { name: 'off', state: 'stopped', network: { mode: 'user' }, ssh: null },
      { name: 'br', state: 'stopped', network: { mode: 'bridge', ip: '172.30.0.7' }, ssh: null },
    ];
    expect(sshEntries(vms)).toEqual([
      { name: 'br', hostName: '172.30.0.7', port: 22 },
      { name: 'web', hostName: '127.0.0.1', port: 40022 },
    ]);
  });
});

describe('renderSshConfig', () => {
  it('writes one Host block per VM and the shared identity last', () => {
    const text = renderSshConfig([{ name: 'web', hostName: '127.0.0.1', port: 40022 }, { name: 'br', hostName: '172.30.0.7', port: 22 }], id);
    expect(text).toContain('Host web.vm\n  HostName 127.0.0.1\n  Port 40022\n  HostKeyAlias web.vm\n');
    expect(text).toContain('Host br.vm\n  HostName 172.30.0.7\n  HostKeyAlias br.vm\n');
    expect(text.indexOf('Host *.vm')).toBeGreaterThan(text.indexOf('Host br.vm'));
    expect(text).toContain('  IdentityFile /state/ssh/id_ed25519\n');
    expect(text).toContain('  UserKnownHostsFile /state/ssh/known_hosts\n');
  });

  it('quotes paths with spaces and refuses quotes', () => {
    expect(renderSshConfig([], { ...id, keyPath: '/my state/key' })).toContain('IdentityFile "/my state/key"');
    expect(() => renderSshConfig([], { ...id, keyPath: '/a"b' })).toThrow(/contains a quote/);
  });
});

describe('the Include fence', () => {
  const user = 'Host github.com\n  User git\n';

  it.each([
    ['an empty file', ''],
    ['a file with hosts', user],
    ['a file that already has the fence', addInclude(user, '/old/path')],
  ])('adds exactly one fence at the top of %s', (_what, before) => {
    const after = addInclude(before, '/state/ssh/config');
    expect(after.startsWith(`${INCLUDE_BEGIN}\nInclude /state/ssh/config\n${INCLUDE_END}\n`)).toBe(true);
    expect(after.split(INCLUDE_BEGIN)).toHaveLength(2);
    expect(addInclude(after, '/state/ssh/config')).toBe(after);
    expect(removeInclude(after)).toBe(before.includes(INCLUDE_BEGIN) ? user : before);
  });

  it('keeps text around a fence someone moved, and refuses a broken fence', () => {
    const moved = `${user}\n${INCLUDE_BEGIN}\nInclude /x\n${INCLUDE_END}\nHost b\n`;
    expect(removeInclude(moved)).toBe(`${user}\nHost b\n`);
    expect(() => removeInclude(`${INCLUDE_BEGIN}\nInclude /x\n`)).toThrow(/fix the file by hand/);
  });
});

describe('files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bt-sshcfg-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('installs and uninstalls idempotently, creating ~/.ssh/config 0600 and following a symlink', async () => {
    const cfg = join(dir, 'home', '.ssh', 'config');
    expect(await installInclude(cfg, '/state/ssh/config')).toEqual({ changed: true });
    expect(await installInclude(cfg, '/state/ssh/config')).toEqual({ changed: false });
    expect(statSync(cfg).mode & 0o777).toBe(0o600);
    expect(await uninstallInclude(cfg)).toEqual({ changed: true });
    expect(await uninstallInclude(cfg)).toEqual({ changed: false });
    expect(readFileSync(cfg, 'utf8')).toBe('');

    const real = join(dir, 'dotfiles-ssh-config');
    writeFileSync(real, 'Host a\n');
    const link = join(dir, 'linked-config');
    symlinkSync(real, link);
    await installInclude(link, '/state/ssh/config');
    expect(readFileSync(real, 'utf8')).toContain('Include /state/ssh/config');
    expect(readFileSync(real, 'utf8')).toContain('Host a\n');
  });

  it('rewrites its own file only on change', async () => {
    const p = join(dir, 'state', 'config');
    expect(await writeIfChanged(p, 'a')).toBe(true);
    expect(await writeIfChanged(p, 'a')).toBe(false);
    expect(await writeIfChanged(p, 'b')).toBe(true);
    expect(existsSync(`${p}.banger-tmp`)).toBe(false);
  });
});

describe('plain ssh through the generated config and the Include (real sshd on 127.0.0.1)', () => {
  let skip: string | null = null;
  let guest: TestSshGuest | undefined;
  beforeAll(async () => {
    skip = await sshdUnavailableReason();
    if (skip) return;
    guest = await startTestSshGuest({ tmpPrefix: 'bt-sshcfg-real-' });
    writeFileSync(guest.knownHosts.path, `web.vm ssh-ed25519 ${guest.sshd.hostKey}\n`);
  }, 120_000);
  afterAll(async () => {
    await guest?.close();
  });

  it('`ssh web.vm` logs in with banger key and known_hosts', async (ctx) => {
    if (skip) return ctx.skip();
    const { dir, key, sshd, knownHosts } = guest!;
    const bangerCfg = join(dir, 'banger-ssh-config');
    writeFileSync(bangerCfg, renderSshConfig([{ name: 'web', hostName: '127.0.0.1', port: sshd.port }], { keyPath: key.path, knownHostsPath: knownHosts.path }));
    const userCfg = join(dir, 'user-ssh-config');
    writeFileSync(userCfg, 'Host *\n  ServerAliveInterval 30\n');
    await installInclude(userCfg, bangerCfg);
    // -N: authenticate and hold the session without a remote command (this host's root shell rc
    // files can block a remote command; authentication is what the config decides).
    const login = async () => {
      const p = spawnProcess(['ssh', '-F', userCfg, '-v', '-N', '-o', 'BatchMode=yes', 'web.vm'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
      const deadline = Date.now() + 20_000;
      while (!/Authenticated to 127\.0\.0\.1/.test(err) && p.child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      p.kill('SIGKILL');
      await p.exit;
      return err;
    };
    const ok = await login();
    expect(ok).toMatch(new RegExp(`Authenticated to 127\\.0\\.0\\.1 \\(\\[127\\.0\\.0\\.1\\]:${sshd.port}\\) using "publickey"`));
    expect(ok).toMatch(/Host 'web\.vm' is known and matches the ED25519 host key/);
    // A wrong host key is refused (known_hosts is enforced, keyed by NAME.vm).
    writeFileSync(knownHosts.path, 'web.vm ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ2B6q7fW4B5tJ7Lr2s9Yq0eG3d1cH5bQ8mZ4k2n9x1p\n');
    const bad = await login();
    expect(bad).not.toMatch(/Authenticated to/);
    expect(bad).toMatch(/HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });
});

describe('sshEntries with forged rows', () => {
  it('leaves out entries whose name, address or port ssh could read as something else', () => {
    const vms = [
      { name: 'ok', state: 'running', network: { mode: 'user' }, ssh: { host: '127.0.0.1', port: 40022 } },
      { name: 'x\n  ProxyCommand sh', state: 'running', network: { mode: 'user' }, ssh: { host: '127.0.0.1', port: 40023 } },
      { name: 'evil', state: 'running', network: { mode: 'user' }, ssh: { host: '-oProxyCommand=sh', port: 40024 } },
      { name: 'br', state: 'stopped', network: { mode: 'bridge', ip: '1.2.3.4 ProxyCommand sh' }, ssh: null },
    ];
    expect(sshEntries(vms).map((e) => e.name)).toEqual(['ok']);
  });
});

describe('writeIfChanged temp file', () => {
  it('never writes through a link planted at a predictable temp name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sshcfg-tmp-'));
    try {
      const victim = join(dir, 'victim');
      writeFileSync(victim, 'keep\n');
      const cfg = join(dir, 'config');
      symlinkSync(victim, `${cfg}.banger-tmp`); // the name the old code used
      expect(await writeIfChanged(cfg, 'Host x.vm\n')).toBe(true);
      expect(readFileSync(victim, 'utf8')).toBe('keep\n');
      expect(readFileSync(cfg, 'utf8')).toBe('Host x.vm\n');
      expect(statSync(cfg).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
