import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BangerError } from '../../api/errors.js';
import { run, which } from '../../host/exec.js';
import { resolvePaths, type Paths } from '../../store/paths.js';
import { importRootfsTar, sanitizeTar } from './import.js';
import { readStoredImage } from './store.js';

type Spec = Partial<tar.Header> & { name: string; body?: string };

async function tarOf(entries: Spec[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const { body, ...h } of entries) pack.entry(h, body ?? undefined);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function listTar(buf: Buffer): Promise<{ name: string; type: string | null; linkname: string | null }[]> {
  const extract = tar.extract();
  Readable.from([buf]).pipe(extract);
  const out = [];
  for await (const e of extract) {
    out.push({ name: e.header.name, type: e.header.type, linkname: e.header.linkname ?? null });
    e.resume();
  }
  return out;
}

async function sanitized(input: Buffer): Promise<Buffer> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  await sanitizeTar(Readable.from([input]), sink);
  return Buffer.concat(chunks);
}

const rootfsEntries: Spec[] = [
  { name: './', type: 'directory', mode: 0o755 },
  { name: './etc/', type: 'directory', mode: 0o755 },
  { name: './etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
  { name: './usr/lib/os-release', type: 'file', mode: 0o644, body: 'ID=debian\nVERSION_CODENAME=bookworm\n' },
  { name: './var/lib/dpkg/status', type: 'file', mode: 0o644, body: 'Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b7\n\nPackage: coreutils\nStatus: install ok installed\nVersion: 9.1-1\n' },
  { name: './usr/bin/tool', type: 'file', mode: 0o4755, uid: 0, gid: 0, body: '#!/bin/sh\n' },
  { name: './usr/bin/tool2', type: 'link', linkname: './usr/bin/tool' },
  { name: './bin', type: 'symlink', linkname: 'usr/bin' },
  { name: './sbin/init', type: 'symlink', linkname: '/usr/bin/tool' },
  { name: './home/dev/', type: 'directory', mode: 0o750, uid: 1000, gid: 1000 },
  { name: './home/dev/notes', type: 'file', mode: 0o640, uid: 1000, gid: 1000, body: 'mine' },
  { name: './run/initctl', type: 'fifo', mode: 0o600 },
];

describe('sanitizeTar', () => {
  it('re-packs a safe archive with normalised names and the same entries', async () => {
    const out = await listTar(await sanitized(await tarOf(rootfsEntries)));
    expect(out.map((e) => e.name)).toEqual([
      '.',
      'etc',
      'etc/os-release',
      'usr/lib/os-release',
      'var/lib/dpkg/status',
      'usr/bin/tool',
      'usr/bin/tool2',
      'bin',
      'sbin/init',
      'home/dev',
      'home/dev/notes',
      'run/initctl',
    ]);
    expect(out.find((e) => e.name === 'usr/bin/tool2')).toEqual({ name: 'usr/bin/tool2', type: 'link', linkname: 'usr/bin/tool' });
    expect(out.find((e) => e.name === 'sbin/init')?.linkname).toBe('/usr/bin/tool');
  });

  it('refuses a traversal through a symlink, naming the entry', async () => {
    const hostile = await tarOf([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/cron.d', type: 'symlink', linkname: '/etc/cron.d' },
      { name: 'etc/cron.d/evil', type: 'file', body: '* * * * * root id' },
    ]);
    await expect(sanitized(hostile)).rejects.toThrow(/refusing rootfs tar entry "etc\/cron.d\/evil": lies under the symlink "etc\/cron.d"/);
  });

  it('refuses a compressed stream with the command that fixes it', async () => {
    const gz = gzipSync(await tarOf(rootfsEntries));
    await expect(sanitized(gz)).rejects.toThrow(/compressed with gzip \(pipe it through `gunzip -c` first\)/);
  });

  it('refuses garbage and an empty archive as bad requests', async () => {
    const garbage = sanitized(Buffer.alloc(2048, 0x41));
    await expect(garbage).rejects.toBeInstanceOf(BangerError);
    await expect(garbage).rejects.toThrow(/not a valid tar archive/);
    await expect(sanitized(await tarOf([]))).rejects.toThrow(/no entries/);
  });
});

const isRoot = process.getuid?.() === 0;
const skipReason = !isRoot ? 'not root (tar must keep file owners)' : null;
if (skipReason) console.log(`import.host.test: importRootfsTar tests skipped: ${skipReason}`);

describe.skipIf(skipReason !== null)('importRootfsTar (root)', () => {
  let base: string;
  let paths: Paths;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'banger-import-'));
    paths = resolvePaths({ HOME: base, XDG_STATE_HOME: join(base, 'state'), XDG_CACHE_HOME: join(base, 'cache'), XDG_RUNTIME_DIR: join(base, 'run') });
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  const debugfs = async (img: string, cmd: string) => (await run(['debugfs', '-R', cmd, img])).stdout;

  it('imports a rootfs tar keeping owners, modes, links; records distro and packages', async () => {
    expect(await which('debugfs')).not.toBeNull();
    const stages: string[] = [];
    const r = await importRootfsTar({ paths, name: 'mini', input: Readable.from([await tarOf(rootfsEntries)]), size: '32M', progress: (s) => stages.push(s) });
    expect(r.existed).toBe(false);
    expect(r.manifest).toMatchObject({ name: 'mini', distro: 'debian-bookworm', kernelRef: null, source: 'import', sizeBytes: 32 * 1024 * 1024 });
    expect(r.manifest.packages).toEqual([
      { name: 'bash', version: '5.2.15-2+b7' },
      { name: 'coreutils', version: '9.1-1' },
    ]);
    expect(stages).not.toContain('check'); // /sbin/init exists (a symlink resolved in the root)
    expect(await readStoredImage(paths, r.manifest.sha256)).toEqual(r.manifest);

    const img = paths.imageFile(r.manifest.sha256, 'rootfs');
    const notes = await debugfs(img, 'stat /home/dev/notes');
    expect(notes).toMatch(/User:\s+1000\s+Group:\s+1000/);
    expect(notes).toMatch(/Mode:\s+0640/);
    const dir = await debugfs(img, 'stat /home/dev');
    expect(dir).toMatch(/Mode:\s+0750/);
    const tool = await debugfs(img, 'stat /usr/bin/tool');
    expect(tool).toMatch(/Mode:\s+04755/);
    expect(tool).toMatch(/Links:\s+2/);
    expect(await debugfs(img, 'stat /run/initctl')).toMatch(/Type: FIFO/);
    expect(await debugfs(img, 'stat /bin')).toMatch(/Type: symlink[\s\S]*Fast link dest: "usr\/bin"/);
  });

  it('refuses a hostile tar: names the entry, registers nothing, leaves no staging', async () => {
    const before = await readdir(paths.imagesDir);
    const hostile = await tarOf([
      { name: './', type: 'directory' },
      { name: 'usr/', type: 'directory' },
      { name: 'usr/lib', type: 'symlink', linkname: '/' },
      { name: 'usr/lib/shadow', type: 'link', linkname: 'etc/shadow' },
    ]);
    const err = await importRootfsTar({ paths, name: 'evil', input: Readable.from([hostile]), size: '32M' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BangerError);
    expect((err as BangerError).code).toBe('bad_request');
    expect((err as BangerError).message).toMatch(/"usr\/lib\/shadow": lies under the symlink "usr\/lib"/);
    expect(await readdir(paths.imagesDir)).toEqual(before);
    expect((await readdir(paths.stagingDir)).filter((n) => n.startsWith('image-'))).toEqual([]);
  });

  it('says clearly when the content does not fit the requested size', async () => {
    const big = await tarOf([{ name: 'big', type: 'file', body: 'x'.repeat(40 * 1024 * 1024) }]);
    await expect(importRootfsTar({ paths, name: 'big', input: Readable.from([big]), size: '16M' })).rejects.toThrow(/does not fit in 16M; pass a larger --size/);
    expect((await readdir(paths.stagingDir)).filter((n) => n.startsWith('image-'))).toEqual([]);
  });
});
