import { describe, expect, it } from 'vitest';
import { checkSshHost, checkSshUser, sshClientArgv, type SshClientTarget } from './sshargv.js';

const t: SshClientTarget = {
  user: 'root',
  host: '127.0.0.1',
  port: 40022,
  keyPath: '/state/ssh/id_ed25519',
  knownHostsPath: '/state/ssh/known_hosts',
  hostKeyAlias: 'web.vm',
  cwd: null,
};

describe('sshClientArgv', () => {
  it('puts -- before the destination, then the command line', () => {
    const argv = sshClientArgv(t, ['ls', '|', 'wc', '-l']);
    expect(argv.slice(-3)).toEqual(['--', 'root@127.0.0.1', 'ls | wc -l']);
    expect(argv).toContain('-p');
    expect(argv[argv.indexOf('-p') + 1]).toBe('40022');
  });

  it('asks for a pty and still ends options before the destination for a login', () => {
    expect(sshClientArgv(t, null).slice(-3)).toEqual(['-t', '--', 'root@127.0.0.1']);
    expect(sshClientArgv({ ...t, cwd: '/root/repo' }, []).slice(-3)).toEqual(['--', 'root@127.0.0.1', `cd /root/repo && sh -c 'exec "\${SHELL:-/bin/sh}" -l'`]);
  });

  it.each([
    ['user', { user: '-oProxyCommand=touch /tmp/pwned' }],
    ['user', { user: 'root x' }],
    ['user', { user: 'ro\not' }],
    ['user', { user: 'a@b' }],
    ['user', { user: '' }],
    ['host', { host: '-oProxyCommand=sh' }],
    ['host', { host: 'host name' }],
    ['host', { host: 'a\tb' }],
    ['host', { host: 'x;id' }],
    ['host', { hostKeyAlias: 'web.vm ProxyCommand=sh' }],
    ['port', { port: 0 }],
    ['port', { port: 70000 }],
    ['key path', { keyPath: 'relative/key' }],
    ['known_hosts path', { knownHostsPath: '/a b' }],
  ] as const)('refuses a forged %s from the daemon: %j', (what, forged) => {
    expect(() => sshClientArgv({ ...t, ...forged }, ['true'])).toThrow(new RegExp(`unusable ssh ${what}`));
  });

  it.each(['127.0.0.1', '::1', 'fe80::1', 'web.vm', 'a-b.example.org', '172.30.0.7'])('accepts host %s', (h) => {
    expect(checkSshHost(h)).toBe(h);
  });

  it.each(['root', 'dev_1', 'a.b-c'])('accepts user %s', (u) => {
    expect(checkSshUser(u)).toBe(u);
  });
});
