import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, readCpio } from './cpio.js';
import { PT_INTERP, PT_LOAD } from './elf.js';
import { buildElf64, fakeModule } from '../../../test/elf.fixture.js';
import { DEFAULT_BUSYBOX, buildInitramfs, initramfsEntries, packInitramfs, readStaticBusybox } from './initramfs.js';
import { INIT_SCRIPT } from './initscript.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'banger-initramfs-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const staticElf = buildElf64({ type: 2, machine: 62, entry: 0x401000n, segments: [{ type: PT_LOAD, data: Buffer.alloc(16) }] });
const dynamicElf = buildElf64({
  type: 3,
  machine: 62,
  segments: [
    { type: PT_INTERP, data: Buffer.from('/lib64/ld-linux-x86-64.so.2\0') },
    { type: PT_LOAD, data: Buffer.alloc(16) },
  ],
});

describe('initramfsEntries', () => {
  it('lays out busybox, /init, /dev/console and the modules with their order file', () => {
    const modules = [
      { file: 'virtio_ring.ko', data: Buffer.from('ring') },
      { file: 'virtio-rng.ko', data: Buffer.from('rng') },
    ];
    const records = readCpio(gunzipSync(packInitramfs(initramfsEntries({ busybox: staticElf, modules }))));
    const by = Object.fromEntries(records.map((r) => [r.path, r]));
    for (const d of ['bin', 'dev', 'proc', 'sys', 'newroot', 'lib/modules']) expect(by[d].mode & S_IFMT).toBe(S_IFDIR);
    expect(by.init.mode).toBe(S_IFREG | 0o755);
    expect(by.init.data.toString()).toBe(INIT_SCRIPT);
    expect(by['bin/busybox'].mode).toBe(S_IFREG | 0o755);
    expect(by['bin/busybox'].data.equals(staticElf)).toBe(true);
    expect(by['bin/sh'].mode & S_IFMT).toBe(S_IFLNK);
    expect(by['dev/console'].mode & S_IFMT).toBe(S_IFCHR);
    expect([by['dev/console'].rdevMajor, by['dev/console'].rdevMinor]).toEqual([5, 1]);
    expect(by['lib/modules/virtio-rng.ko'].data.toString()).toBe('rng');
    expect(by['lib/modules/order'].data.toString()).toBe('virtio_ring.ko\nvirtio-rng.ko\n');
    // Parents before children, as the kernel's unpacker needs.
    const paths = records.map((r) => r.path);
    expect(paths.indexOf('lib')).toBeLessThan(paths.indexOf('lib/modules'));
    expect(paths.indexOf('lib/modules')).toBeLessThan(paths.indexOf('lib/modules/order'));
  });

  it('is deterministic', () => {
    const spec = { busybox: staticElf, modules: [] };
    expect(packInitramfs(initramfsEntries(spec)).equals(packInitramfs(initramfsEntries(spec)))).toBe(true);
  });
});

describe('readStaticBusybox', () => {
  it('accepts a static x86-64 executable', async () => {
    await writeFile(join(dir, 'static'), staticElf);
    expect((await readStaticBusybox(join(dir, 'static'))).equals(staticElf)).toBe(true);
  });

  it.each([
    ['missing', undefined, /not found.*apt-get install busybox-static/],
    ['dynamic', dynamicElf, /dynamically linked.*apt-get install busybox-static/],
    ['script', Buffer.from('#!/bin/sh\n'), /not an ELF executable.*apt-get install busybox-static/],
    ['arm64', buildElf64({ type: 2, machine: 183 }), /not an x86-64 binary/],
  ])('refuses a %s busybox, saying what to install', async (name, data, message) => {
    if (data) await writeFile(join(dir, name), data);
    await expect(readStaticBusybox(join(dir, name))).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(message) });
  });

  it("accepts this host's busybox when busybox-static is installed", async (ctx) => {
    const buf = await readFile(DEFAULT_BUSYBOX).catch(() => null);
    if (!buf) ctx.skip();
    await expect(readStaticBusybox()).resolves.toHaveLength(buf!.length);
  });
});

describe('buildInitramfs', () => {
  it('writes a gzip newc archive with the modules of a tree in load order', async () => {
    const tree = join(dir, '6.9.0');
    await mkdir(join(tree, 'kernel'), { recursive: true });
    await writeFile(join(tree, 'kernel/virtio_ring.ko'), fakeModule(['depends=', 'name=virtio_ring']));
    await writeFile(join(tree, 'kernel/virtio.ko'), fakeModule(['depends=virtio_ring', 'name=virtio']));
    await writeFile(join(dir, 'bb'), staticElf);
    await chmod(join(dir, 'bb'), 0o755);
    const out = join(dir, 'initrd.img');
    const result = await buildInitramfs({ outPath: out, modulesDir: tree, busyboxPath: join(dir, 'bb'), wanted: ['virtio'] });
    expect(result.modules).toEqual(['virtio_ring.ko', 'virtio.ko']);
    const records = readCpio(gunzipSync(await readFile(out)));
    expect(records.find((r) => r.path === 'lib/modules/order')!.data.toString()).toBe('virtio_ring.ko\nvirtio.ko\n');
  });

  it('builds without modules for kernels with virtio built in', async () => {
    await writeFile(join(dir, 'bb'), staticElf);
    const result = await buildInitramfs({ outPath: join(dir, 'plain.img'), busyboxPath: join(dir, 'bb') });
    expect(result.modules).toEqual([]);
    const records = readCpio(gunzipSync(await readFile(join(dir, 'plain.img'))));
    expect(records.find((r) => r.path === 'lib/modules/order')!.data.length).toBe(0);
  });
});

describe('packInitramfs with an uncompressed tail', () => {
  it('appends the tail as a raw newc archive starting 4-byte aligned after zeros', () => {
    const head = [{ type: 'file' as const, path: 'init', mode: 0o755, data: Buffer.from('#!/bin/sh\n') }];
    const tail = [
      { type: 'dir' as const, path: 'banger', mode: 0o755 },
      { type: 'file' as const, path: 'banger/x', mode: 0o644, data: Buffer.from('tools') },
    ];
    const gz = packInitramfs(head);
    const both = packInitramfs(head, tail);
    expect(both.subarray(0, gz.length).equals(gz)).toBe(true);
    const start = gz.length + ((4 - (gz.length % 4)) % 4);
    expect(both.subarray(gz.length, start).every((b) => b === 0)).toBe(true);
    expect(both.subarray(start, start + 6).toString()).toBe('070701');
    const records = readCpio(both.subarray(start));
    expect(records.find((r) => r.path === 'banger/x')!.data.toString()).toBe('tools');
    expect(packInitramfs(head, []).equals(gz)).toBe(true);
  });
});
