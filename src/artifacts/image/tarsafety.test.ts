import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import * as tar from 'tar-stream';
import { BangerError } from '../../api/errors.js';
import {
  checkTarEntries,
  normalizeEntryName,
  resolveRelativeTarget,
  TarEntryChecker,
  type TarEntryHeader,
} from './tarsafety.js';

type Spec = Partial<tar.Header> & { name: string; body?: string };

/** Packs a real tar with tar-stream, then reads its headers back the way import does. */
async function headersOf(entries: Spec[]): Promise<TarEntryHeader[]> {
  const pack = tar.pack();
  for (const { body, ...h } of entries) pack.entry(h, body ?? undefined);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  const extract = tar.extract();
  Readable.from([Buffer.concat(chunks)]).pipe(extract);
  const out: TarEntryHeader[] = [];
  for await (const entry of extract) {
    out.push({ name: entry.header.name, type: entry.header.type, linkname: entry.header.linkname });
    entry.resume();
  }
  return out;
}

const f = (name: string, body = 'x'): Spec => ({ name, type: 'file', body });
const d = (name: string): Spec => ({ name, type: 'directory' });
const sl = (name: string, linkname: string): Spec => ({ name, type: 'symlink', linkname });
const hl = (name: string, linkname: string): Spec => ({ name, type: 'link', linkname });

describe('normalizeEntryName', () => {
  it.each([
    ['./etc/passwd', 'etc/passwd'],
    ['etc//ssh/./sshd_config', 'etc/ssh/sshd_config'],
    ['./', ''],
    ['usr/bin/', 'usr/bin'],
    ['..foo/bar..', '..foo/bar..'],
  ])('%s -> %s', (name, path) => {
    expect(normalizeEntryName(name)).toEqual({ path });
  });

  it.each([
    ['', 'empty name'],
    ['/etc/passwd', 'absolute path'],
    ['../etc/passwd', '".." path component'],
    ['usr/../../x', '".." path component'],
    ['./a/..', '".." path component'],
  ])('rejects %j (%s)', (name, reason) => {
    expect(normalizeEntryName(name)).toEqual({ reason });
  });
});

describe('resolveRelativeTarget', () => {
  it.each([
    ['etc/os-release', '../usr/lib/os-release', 'usr/lib/os-release'],
    ['lib', 'usr/lib', 'usr/lib'],
    ['usr/lib/x/y', '../../../etc', 'etc'],
    ['a/b', './c/./d', 'a/c/d'],
    ['usr/lib/x', '../../../../etc', null],
    ['top', '..', null],
  ])('%s -> %s = %s', (link, target, resolved) => {
    expect(resolveRelativeTarget(link, target)).toBe(resolved);
  });
});

describe('TarEntryChecker on tars made with tar-stream', () => {
  const accepted: [string, Spec[]][] = [
    ['a plain rootfs', [d('./'), d('./etc'), f('./etc/hostname'), d('./usr'), d('./usr/bin'), f('./usr/bin/sh')]],
    ['merged-usr relative symlinks', [d('usr/lib'), sl('lib', 'usr/lib'), sl('etc/os-release', '../usr/lib/os-release')]],
    ['absolute symlink targets (resolved inside the guest)', [sl('etc/mtab', '/proc/self/mounts'), sl('bin/sh2', '/bin/../../../bin/dash')]],
    ['a hard link to an earlier file', [f('usr/bin/perl5.36.0'), hl('usr/bin/perl', 'usr/bin/perl5.36.0')]],
    ['a hard link written with ./', [f('./usr/bin/a'), hl('./usr/bin/b', './usr/bin/a')]],
    ['a fifo', [{ name: 'run/initctl', type: 'fifo' }]],
    ['a long path (pax/gnu header)', [f(`${'deep/'.repeat(40)}file`)]],
  ];
  it.each(accepted)('accepts %s', async (_label, entries) => {
    const headers = await headersOf(entries);
    expect(checkTarEntries(headers).length).toBe(entries.length);
  });

  const rejected: [string, Spec[], string, RegExp][] = [
    ['an absolute path', [f('/etc/passwd')], '/etc/passwd', /absolute path/],
    ['a .. component', [d('usr'), f('usr/../../etc/shadow')], 'usr/../../etc/shadow', /"\.\." path component/],
    ['a relative symlink escaping the root', [sl('usr/lib/evil', '../../../etc')], 'usr/lib/evil', /escapes the root/],
    ['a file written through an earlier symlink', [sl('evil', '/etc'), f('evil/cron.d/x')], 'evil/cron.d/x', /under the symlink "evil"/],
    ['a file written through a relative symlink', [sl('ok', 'usr'), f('ok/bin/x')], 'ok/bin/x', /under the symlink "ok"/],
    ['an entry replacing a symlink', [sl('etc/passwd', '/etc/shadow'), f('etc/passwd')], 'etc/passwd', /replaces the earlier symlink/],
    ['a hard link to a host path', [hl('shadow', '/etc/shadow')], 'shadow', /hard link target: absolute path/],
    ['a hard link climbing out', [hl('x', '../../etc/shadow')], 'x', /hard link target: "\.\." path component/],
    ['a hard link to a later or missing entry', [hl('x', 'etc/shadow'), f('etc/shadow')], 'x', /not an earlier file/],
    ['a hard link to a directory', [d('etc'), hl('x', 'etc')], 'x', /not an earlier file/],
    [
      'a hard link through a symlink declared after the file',
      [d('d'), f('d/x'), sl('d', '/etc'), hl('h', 'd/x')],
      'h',
      /hard link target lies under the symlink "d"/,
    ],
    ['a character device', [f('etc/hostname'), { name: 'dev/sda', type: 'character-device', devmajor: 8, devminor: 0 }], 'dev/sda', /device node/],
    ['a block device', [{ name: 'dev/vda', type: 'block-device', devmajor: 254, devminor: 0 }], 'dev/vda', /device node/],
  ];
  it.each(rejected)('rejects %s, naming the entry', async (_label, entries, entry, reason) => {
    const headers = await headersOf(entries);
    let err: unknown;
    try {
      checkTarEntries(headers);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BangerError);
    const be = err as BangerError;
    expect(be.code).toBe('bad_request');
    expect(be.details?.entry).toBe(entry);
    expect(be.message).toContain(`"${entry}"`);
    expect(be.message).toMatch(reason);
    expect(be.message).toContain('nothing was imported');
  });

  it('rejects an unknown entry type', () => {
    expect(new TarEntryChecker().check({ name: 'x', type: null })).toEqual({ ok: false, reason: 'unsupported entry type unknown' });
  });

  it('rejects a root entry that is not a directory', () => {
    expect(new TarEntryChecker().check({ name: './', type: 'symlink', linkname: '/' }).ok).toBe(false);
  });
});
