import { lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, which } from '../../host/exec.js';
import { INIT_LIBRARY, INIT_SCRIPT, INITRD_BUILDER } from './initscript.js';

let busybox: string | null = null;
let work: string;

beforeAll(async () => {
  busybox = await which('busybox');
  work = await mkdtemp(join(tmpdir(), 'banger-init-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Runs library code under busybox sh with CMDLINE set, the way /init does (globbing off). */
async function withLibrary(cmdline: string, body: string, args: string[] = []) {
  const script = `${INIT_LIBRARY}\nset -f\nCMDLINE=$1\nshift\n${body}`;
  return run([busybox!, 'sh', '-c', script, 'sh', cmdline, ...args], { check: false, cwd: work });
}

let n = 0;
async function freshRoot(): Promise<string> {
  const root = join(work, `root${n++}`);
  await mkdir(join(root, 'etc'), { recursive: true });
  return root;
}

describe('INIT_SCRIPT', () => {
  it('starts with the busybox shebang and has no JS template leftovers', () => {
    expect(INIT_SCRIPT.startsWith('#!/bin/busybox sh\n')).toBe(true);
    expect(INIT_SCRIPT).not.toContain('\\${');
    expect(INIT_SCRIPT).toContain('"${_w#*=}"');
    expect(INIT_SCRIPT).toContain('exec switch_root /newroot "$init"');
    expect(INITRD_BUILDER).toMatch(/^banger\/[0-9a-f]{12}$/);
  });

  it('parses under busybox sh and dash', async (ctx) => {
    if (!busybox) ctx.skip();
    const file = join(work, 'init');
    await writeFile(file, INIT_SCRIPT);
    expect((await run([busybox!, 'sh', '-n', file], { check: false })).code).toBe(0);
    expect((await run(['sh', '-n', file], { check: false })).code).toBe(0);
  });
});

describe('arg', () => {
  it.for([
    ['root=/dev/vda console=ttyS0', 'root', '/dev/vda'],
    ['console=ttyS0', 'root', ''],
    ['banger.ip=1.2.3.4/24 banger.ip=5.6.7.8/24', 'banger.ip', '5.6.7.8/24'],
    ['xbanger.key=AAA banger.key=BBB=', 'banger.key', 'BBB='],
    ['banger.hostname=* root=/dev/vda', 'banger.hostname', '*'],
    ['banger.hostname=-n', 'banger.hostname', '-n'],
  ] as Array<[string, string, string]>)('%s: %s -> %j', async ([cmdline, name, value], ctx) => {
    if (!busybox) ctx.skip();
    const r = await withLibrary(cmdline, 'arg "$1"', [name]);
    expect(r.stdout).toBe(value);
  });
});

describe('validators', () => {
  const cases: Array<[string, string, boolean]> = [
    ['valid_hostname', 'web-1', true],
    ['valid_hostname', 'a.b.example', true],
    ['valid_hostname', '-bad', false],
    ['valid_hostname', 'a b', false],
    ['valid_hostname', '$(reboot)', false],
    ['valid_hostname', '*', false],
    ['valid_key', 'AAAAC3NzaC1lZDI1NTE5AAAAIHk+/x=', true],
    ['valid_key', "AAA'", false],
    ['valid_key', 'AAA;reboot', false],
    ['valid_ip', '10.0.2.15', true],
    ['valid_ip', '255.255.255.255', true],
    ['valid_ip', '256.1.1.1', false],
    ['valid_ip', '1.2.3', false],
    ['valid_ip', '1.2.3.4.5', false],
    ['valid_ip', '1..2.3', false],
    ['valid_ip', '1.2.3.4;x', false],
    ['valid_ip', '0001.2.3.4', false],
    ['valid_cidr', '10.0.2.15/24', true],
    ['valid_cidr', '10.0.2.15/33', false],
    ['valid_cidr', '10.0.2.15', false],
    ['valid_cidr', '10.0.2.15/', false],
    ['valid_mac', '52:54:00:12:34:56', true],
    ['valid_mac', '52:54:00:12:34', false],
    ['valid_mac', '52:54:00:12:34:5g', false],
    ['valid_path', '/dev/vda', true],
    ['valid_path', '/sbin/init', true],
    ['valid_path', 'dev/vda', false],
    ['valid_path', '/dev/../etc', false],
    ['valid_path', '/dev/$(x)', false],
    ['valid_fstype', 'ext4', true],
    ['valid_fstype', 'ext4;x', false],
  ];
  it.for(cases)('%s %j -> %s', async ([fn, value, ok], ctx) => {
    if (!busybox) ctx.skip();
    const r = await withLibrary('', `${fn} "$1"`, [value]);
    expect(r.code === 0).toBe(ok);
  });
});

describe('configure_root', () => {
  it('writes hostname, hosts, authorized_keys and resolv.conf', async (ctx) => {
    if (!busybox) ctx.skip();
    const root = await freshRoot();
    await symlink('../run/systemd/resolve/stub-resolv.conf', join(root, 'etc/resolv.conf'));
    const r = await withLibrary(
      'console=ttyS0 banger.hostname=web-1 banger.key=AAAAC3NzaC1lZDI1NTE5AAAAIabc+/= banger.dns=10.0.2.3,1.1.1.1',
      'configure_root "$1"',
      [root],
    );
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await readFile(join(root, 'etc/hostname'), 'utf8')).toBe('web-1\n');
    expect(await readFile(join(root, 'etc/hosts'), 'utf8')).toContain('127.0.1.1\tweb-1\n');
    expect(await readFile(join(root, 'root/.ssh/authorized_keys'), 'utf8')).toBe('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIabc+/= banger\n');
    expect((await stat(join(root, 'root/.ssh/authorized_keys'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(root, 'root/.ssh'))).mode & 0o777).toBe(0o700);
    expect((await lstat(join(root, 'etc/resolv.conf'))).isSymbolicLink()).toBe(false);
    expect(await readFile(join(root, 'etc/resolv.conf'), 'utf8')).toBe('nameserver 10.0.2.3\nnameserver 1.1.1.1\n');
  });

  it("replaces banger's key line and keeps the user's own keys", async (ctx) => {
    if (!busybox) ctx.skip();
    const root = await freshRoot();
    await mkdir(join(root, 'root/.ssh'), { recursive: true });
    await writeFile(join(root, 'root/.ssh/authorized_keys'), 'ssh-ed25519 OLD banger\nssh-rsa USERKEY me@laptop\n');
    const r = await withLibrary('banger.key=NEW', 'configure_root "$1"', [root]);
    expect(r.code).toBe(0);
    expect(await readFile(join(root, 'root/.ssh/authorized_keys'), 'utf8')).toBe('ssh-rsa USERKEY me@laptop\nssh-ed25519 NEW banger\n');
  });

  it('writes nothing when the command line has no banger values', async (ctx) => {
    if (!busybox) ctx.skip();
    const root = await freshRoot();
    const r = await withLibrary('console=ttyS0 root=/dev/vda', 'configure_root "$1"', [root]);
    expect(r.code).toBe(0);
    await expect(stat(join(root, 'etc/hostname'))).rejects.toThrow();
    await expect(stat(join(root, 'root'))).rejects.toThrow();
  });

  it.for([
    ['banger.hostname=$(touch${IFS}PWNED)', /invalid banger.hostname/],
    ["banger.hostname=x';touch${IFS}PWNED;'", /invalid banger.hostname/],
    ['banger.key=AAA`touch${IFS}PWNED`', /invalid banger.key/],
    ['banger.dns=1.1.1.1,$(touch${IFS}PWNED)', /invalid banger.dns/],
    ['banger.dns=1.1.1.1;touch${IFS}PWNED', /invalid banger.dns/],
  ] as Array<[string, RegExp]>)('refuses %s with a banger-init line and runs nothing', async ([cmdline, message], ctx) => {
    if (!busybox) ctx.skip();
    const root = await freshRoot();
    const r = await withLibrary(cmdline, 'configure_root "$1"', [root]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/^banger-init: /);
    expect(r.stdout).toMatch(message);
    await expect(stat(join(work, 'PWNED'))).rejects.toThrow();
    await expect(stat(join(root, 'etc/hostname'))).rejects.toThrow();
  });

  it('does not glob a * from the command line', async (ctx) => {
    if (!busybox) ctx.skip();
    const root = await freshRoot();
    await writeFile(join(work, 'banger.hostname=globbed'), '');
    const r = await withLibrary('banger.hostname=*', 'configure_root "$1"', [root]);
    expect(r.stdout).toMatch(/invalid banger.hostname/);
    await expect(stat(join(root, 'etc/hostname'))).rejects.toThrow();
  });
});

describe('banger init for roots without their own', () => {
  it('configure_root puts the key in the given file and leaves the root\'s /root alone', async (ctx) => {
    if (!busybox) ctx.skip();
    const root = await freshRoot();
    const keyfile = join(root, '.banger/tools/etc/ssh/authorized_keys');
    const r = await withLibrary('banger.hostname=oci-1 banger.key=KEY=', 'configure_root "$1" "$2"', [root, keyfile]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await readFile(keyfile, 'utf8')).toBe('ssh-ed25519 KEY= banger\n');
    expect((await stat(join(root, '.banger/tools/etc/ssh'))).mode & 0o777).toBe(0o700);
    await expect(stat(join(root, 'root'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  // The tools dir is /banger in the initramfs; here a temporary one stands in for it.
  async function wants(setup: (root: string) => Promise<void>, withTools = true): Promise<boolean> {
    const root = await freshRoot();
    const tools = join(work, `tools${n++}`);
    if (withTools) {
      await mkdir(join(tools, 'libexec'), { recursive: true });
      await writeFile(join(tools, 'libexec/init'), '#!/bin/sh\n', { mode: 0o755 });
    }
    await setup(root);
    const script = `${INIT_LIBRARY.replace('[ -x /banger/libexec/init ]', `[ -x ${tools}/libexec/init ]`)}\nwants_banger_init "$1" /sbin/init`;
    return (await run([busybox!, 'sh', '-c', script, 'sh', root], { check: false })).code === 0;
  }
  const put = async (root: string, p: string, link = false) => {
    await mkdir(join(root, p, '..'), { recursive: true });
    if (link) await symlink('/lib/systemd/systemd', join(root, p));
    else await writeFile(join(root, p), 'x');
  };

  it.each<[string, (root: string) => Promise<void>, boolean]>([
    ['no init, no sshd (an OCI image)', async () => {}, true],
    ['busybox init but no sshd', async (r) => put(r, 'sbin/init'), true],
    ['systemd (absolute link) and sshd: its own', async (r) => (await put(r, 'sbin/init', true), put(r, 'usr/sbin/sshd')), false],
    ['sshd but no init', async (r) => put(r, 'usr/sbin/sshd'), true],
  ])('%s -> %s', async (_what, setup, want, ctx) => {
    if (!busybox) ctx.skip();
    expect(await wants(setup)).toBe(want);
  });

  it('never without the guest tools in the initramfs (an imported kernel)', async (ctx) => {
    if (!busybox) ctx.skip();
    expect(await wants(async () => {}, false)).toBe(false);
  });
});

describe('load_modules', () => {
  it('loads the files named in order, in that order, and warns on a failure', async (ctx) => {
    if (!busybox) ctx.skip();
    const mods = join(work, 'mods');
    await mkdir(mods, { recursive: true });
    await writeFile(join(mods, 'order'), 'a.ko\n\nvirtio-rng.ko\nbad.ko\n');
    // A fake insmod records its argument; it fails for bad.ko.
    const body = `insmod() { echo "insmod $1" >> "$2.log"; case "$1" in *bad.ko) return 1;; esac; }\nload_modules "$1"`;
    const r = await withLibrary('', body.replace('"$2.log"', `"${mods}/calls.log"`), [mods]);
    expect(r.code).toBe(0);
    expect(await readFile(join(mods, 'calls.log'), 'utf8')).toBe(`insmod ${mods}/a.ko\ninsmod ${mods}/virtio-rng.ko\ninsmod ${mods}/bad.ko\n`);
    expect(r.stdout).toBe('banger-init: warning: could not load module bad.ko\n');
  });
});
