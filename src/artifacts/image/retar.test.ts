import { PassThrough, Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { buildTarPlan } from './build.js';
import { guestCustomisation } from './guestfiles.js';
import { missingParents, packMode, patchTarStream, planCustomisation } from './retar.js';

type Spec = Partial<tar.Header> & { name: string; body?: string };

async function tarOf(entries: Spec[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const { body, ...h } of entries) pack.entry({ uid: 0, gid: 0, mode: 0o644, ...h }, body ?? undefined);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

interface Out {
  type: string | null;
  mode: number;
  uid: number;
  gid: number;
  linkname: string | null;
  body: string;
  devmajor?: number;
}

async function patched(entries: Spec[]): Promise<Map<string, Out>> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  await patchTarStream(Readable.from([await tarOf(entries)]), sink, buildTarPlan());
  const extract = tar.extract();
  Readable.from([Buffer.concat(chunks)]).pipe(extract);
  const out = new Map<string, Out>();
  for await (const e of extract) {
    const parts: Buffer[] = [];
    for await (const c of e) parts.push(c as Buffer);
    const h = e.header;
    out.set(h.name, { type: h.type, mode: h.mode ?? 0, uid: h.uid ?? -1, gid: h.gid ?? -1, linkname: h.linkname ?? null, body: Buffer.concat(parts).toString(), devmajor: h.devmajor });
  }
  return out;
}

// What a bootstrap leaves behind: host keys, the builder's hostname, enabled timers, cached .debs.
const bootstrap: Spec[] = [
  { name: './', type: 'directory', mode: 0o755 },
  { name: './etc/', type: 'directory', mode: 0o755 },
  { name: './etc/ssh/', type: 'directory', mode: 0o755 },
  { name: './etc/ssh/ssh_host_rsa_key', mode: 0o600, body: 'secret' },
  { name: './etc/ssh/ssh_host_ed25519_key.pub', body: 'pub' },
  { name: './etc/ssh/sshd_config', body: 'Include /etc/ssh/sshd_config.d/*.conf\n' },
  { name: './etc/hostname', body: 'build-host\n' },
  { name: './etc/machine-id', body: '0123456789abcdef0123456789abcdef\n' },
  { name: './etc/shadow', mode: 0o640, gid: 42, body: 'root:*:1::::::\n' },
  { name: './etc/systemd/system/timers.target.wants/apt-daily.timer', type: 'symlink', linkname: '/lib/systemd/system/apt-daily.timer' },
  { name: './usr/bin/su', mode: 0o4755, body: 'ELF' },
  { name: './usr/bin/su2', type: 'link', linkname: './usr/bin/su' },
  { name: './dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 },
  { name: './var/cache/apt/archives/', type: 'directory', mode: 0o700, uid: 1001, gid: 1001 },
  { name: './var/cache/apt/archives/partial/', type: 'directory', mode: 0o700, uid: 42 },
  { name: './var/cache/apt/archives/curl_1_amd64.deb', body: 'deb' },
  { name: './var/cache/apt/pkgcache.bin', body: 'bin' },
  { name: './etc/locked', mode: packMode(0), body: 'x' },
];

describe('patchTarStream with the image customisation', () => {
  it('writes the files with their modes, root-owned', async () => {
    const out = await patched(bootstrap);
    expect(out.get('etc/hostname')).toMatchObject({ body: 'localhost\n', uid: 0, gid: 0, mode: 0o644 });
    expect(out.get('etc/machine-id')).toMatchObject({ body: '', mode: 0o444 });
    expect(out.get('etc/ssh/sshd_config.d/banger.conf')?.body).toMatch(/PasswordAuthentication no/);
    expect(out.get('usr/local/sbin/banger-hostkey')).toMatchObject({ mode: 0o755, uid: 0 });
  });

  it('adds missing parent directories before the files in them', async () => {
    const out = await patched(bootstrap);
    const names = [...out.keys()];
    expect(out.get('etc/ssh/sshd_config.d')).toMatchObject({ type: 'directory', mode: 0o755, uid: 0 });
    expect(names.indexOf('etc/ssh/sshd_config.d')).toBeLessThan(names.indexOf('etc/ssh/sshd_config.d/banger.conf'));
    expect(names.filter((n) => n === 'etc/ssh')).toHaveLength(1);
  });

  it('removes host keys, the timer wants link, cached .debs and apt caches; keeps the rest', async () => {
    const out = await patched(bootstrap);
    for (const gone of ['etc/ssh/ssh_host_rsa_key', 'etc/ssh/ssh_host_ed25519_key.pub', 'etc/systemd/system/timers.target.wants/apt-daily.timer', 'var/cache/apt/archives/curl_1_amd64.deb', 'var/cache/apt/pkgcache.bin']) {
      expect(out.has(gone), gone).toBe(false);
    }
    expect(out.get('etc/ssh/sshd_config')?.type).toBe('file');
    expect(out.get('var/cache/apt/archives/partial')).toMatchObject({ type: 'directory', uid: 42 });
  });

  it('keeps owners, setuid bits, hard links and device nodes of the entries it does not touch', async () => {
    const out = await patched(bootstrap);
    expect(out.get('etc/shadow')).toMatchObject({ uid: 0, gid: 42, mode: 0o640 });
    expect(out.get('usr/bin/su')).toMatchObject({ mode: 0o4755, uid: 0 });
    expect(out.get('usr/bin/su2')).toMatchObject({ type: 'link', linkname: 'usr/bin/su' });
    expect(out.get('dev/null')).toMatchObject({ type: 'character-device', devmajor: 1 });
    expect(out.get('etc/locked')).toMatchObject({ type: 'file', mode: 0 });
  });

  it('gives the synced-in apt archive directory back to root', async () => {
    expect((await patched(bootstrap)).get('var/cache/apt/archives')).toMatchObject({ uid: 0, gid: 0, mode: 0o755 });
  });

  it('masks units and enables the host key unit with symlinks', async () => {
    const out = await patched(bootstrap);
    expect(out.get('etc/systemd/system/apt-daily.timer')).toMatchObject({ type: 'symlink', linkname: '/dev/null' });
    expect(out.get('etc/systemd/system/multi-user.target.wants/banger-hostkeys.service')?.linkname).toBe('/etc/systemd/system/banger-hostkeys.service');
  });

  it('refuses a hard link to an entry it removes', async () => {
    const sink = new PassThrough();
    sink.resume();
    const input = Readable.from([await tarOf([{ name: 'etc/hostname', body: 'x' }, { name: 'etc/hostname2', type: 'link', linkname: 'etc/hostname' }])]);
    await expect(patchTarStream(input, sink, buildTarPlan())).rejects.toThrow(/hard-links etc\/hostname2/);
  });
});

describe('planCustomisation', () => {
  const plan = planCustomisation(guestCustomisation());
  it.each([
    ['etc/hostname', true],
    ['etc/ssh/ssh_host_ecdsa_key', true],
    ['etc/ssh/ssh_config', false],
    ['etc/ssh/sub/ssh_host_x', false],
    ['var/cache/apt/srcpkgcache.bin', true],
    ['var/cache/apt/archives/lock', false],
    ['root/.ssh/authorized_keys', true],
    ['usr/bin/ssh', false],
  ])('drop(%s) = %s', (path, dropped) => expect(plan.drop(path)).toBe(dropped));
});

describe('missingParents', () => {
  it.each([
    ['a/b/c', [''], ['a', 'a/b']],
    ['a/b/c', ['', 'a'], ['a/b']],
    ['a/b/c', ['', 'a', 'a/b'], []],
    ['top', [''], []],
  ])('%s with %j seen -> %j', (path, seen, expected) => expect(missingParents(path, new Set(seen))).toEqual(expected));
});

describe('packMode', () => {
  it.each([
    [0o644, 0o644],
    [0o4755, 0o4755],
    [0, 0o100000],
    [undefined, undefined],
  ])('%o -> %o', (mode, expected) => expect(packMode(mode)).toBe(expected));
});
