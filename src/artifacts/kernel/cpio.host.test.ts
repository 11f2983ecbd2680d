import { mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, which } from '../../host/exec.js';
import { type CpioEntry, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, readCpio, writeCpio } from './cpio.js';

const ENTRIES: CpioEntry[] = [
  { type: 'dir', path: 'bin' },
  { type: 'dir', path: 'tmp', mode: 0o1777 },
  { type: 'file', path: 'bin/hello', mode: 0o755, data: Buffer.from('#!/bin/sh\necho hi\n') },
  { type: 'file', path: 'odd-size', data: Buffer.from('abcde') },
  { type: 'file', path: 'empty', data: Buffer.alloc(0) },
  { type: 'symlink', path: 'bin/sh', target: 'hello' },
  { type: 'chardev', path: 'console', major: 5, minor: 1 },
];

describe('writeCpio / readCpio', () => {
  it('round-trips paths, types, modes, data and device numbers', () => {
    const records = readCpio(writeCpio(ENTRIES));
    expect(records.map((r) => r.path)).toEqual(ENTRIES.map((e) => e.path));
    const by = Object.fromEntries(records.map((r) => [r.path, r]));
    expect(by.bin.mode).toBe(S_IFDIR | 0o755);
    expect(by.tmp.mode).toBe(S_IFDIR | 0o1777);
    expect(by['bin/hello'].mode).toBe(S_IFREG | 0o755);
    expect(by['bin/hello'].data.toString()).toBe('#!/bin/sh\necho hi\n');
    expect(by['odd-size'].mode).toBe(S_IFREG | 0o644);
    expect(by['odd-size'].data.toString()).toBe('abcde');
    expect(by.empty.data.length).toBe(0);
    expect(by['bin/sh'].mode & S_IFMT).toBe(S_IFLNK);
    expect(by['bin/sh'].data.toString()).toBe('hello');
    expect(by.console.mode).toBe(S_IFCHR | 0o600);
    expect([by.console.rdevMajor, by.console.rdevMinor]).toEqual([5, 1]);
  });

  it('is deterministic and 4-byte aligned', () => {
    const a = writeCpio(ENTRIES);
    expect(a.equals(writeCpio(ENTRIES))).toBe(true);
    expect(a.length % 4).toBe(0);
    expect(a.subarray(-124).toString('latin1')).toContain('TRAILER!!!');
  });

  it.each(['', '../etc', 'a/../b', 'a//b', 'x\0y'])('refuses the path %j', (path) => {
    expect(() => writeCpio([{ type: 'dir', path }])).toThrow(/invalid cpio path/);
  });

  it('strips a leading slash', () => {
    expect(readCpio(writeCpio([{ type: 'dir', path: '/lib' }]))[0].path).toBe('lib');
  });

  it('refuses a truncated archive', () => {
    const buf = writeCpio(ENTRIES);
    expect(() => readCpio(buf.subarray(0, 200))).toThrow(/runs past the end|without a trailer/);
    expect(() => readCpio(Buffer.from('garbage'.repeat(20)))).toThrow(/not a newc cpio header/);
  });
});

describe('the host cpio reads what writeCpio writes', () => {
  let dir: string;
  let hasCpio = false;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'banger-cpio-'));
    hasCpio = (await which('cpio')) !== null;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists and extracts every entry', async (ctx) => {
    if (!hasCpio) ctx.skip(); // apt-get install cpio
    const archive = writeCpio(ENTRIES);
    const listed = await run(['cpio', '-it', '--quiet'], { input: archive });
    expect(listed.stdout.trim().split('\n')).toEqual(ENTRIES.map((e) => e.path));
    const verbose = await run(['cpio', '-itv', '--quiet'], { input: archive });
    expect(verbose.stdout).toMatch(/^crw-------.*5,\s*1.*console$/m);

    // Extract everything but the device node (no mknod needed).
    await run(['cpio', '-id', '--quiet', '-f', 'console'], { input: archive, cwd: dir });
    expect(await readFile(join(dir, 'bin/hello'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
    expect((await stat(join(dir, 'bin/hello'))).mode & 0o777).toBe(0o755);
    expect(await readlink(join(dir, 'bin/sh'))).toBe('hello');
    expect(await readFile(join(dir, 'odd-size'), 'utf8')).toBe('abcde');
  });
});
