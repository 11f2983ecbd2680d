import { describe, expect, it } from 'vitest';
import { debianArch, distroName, parseDpkgQuery, parseDpkgStatus, parseOsRelease } from './rootfsinfo.js';

describe('parseDpkgStatus', () => {
  it('lists installed packages sorted, skipping removed ones and continuation lines', () => {
    const status = [
      'Package: zlib1g',
      'Status: install ok installed',
      'Version: 1:1.2.13.dfsg-1',
      'Description: compression library',
      ' Depends: not-a-field',
      '',
      'Package: bash',
      'Status: install ok installed',
      'Version: 5.2.15-2+b7',
      '',
      'Package: old',
      'Status: deinstall ok config-files',
      'Version: 1.0',
      '',
      'Package: gone',
      'Status: purge ok not-installed',
      'Version: 2.0',
      '',
    ].join('\n');
    expect(parseDpkgStatus(status)).toEqual([
      { name: 'bash', version: '5.2.15-2+b7' },
      { name: 'zlib1g', version: '1:1.2.13.dfsg-1' },
    ]);
  });

  it('returns nothing for an empty file', () => {
    expect(parseDpkgStatus('')).toEqual([]);
  });
});

describe('parseDpkgQuery', () => {
  it('reads tab-separated lines, installed only', () => {
    expect(parseDpkgQuery('tmux\t3.3a-3\tinstalled\nbash\t5.2.15-2+b7\tinstalled\nfoo\t1\tconfig-files\n')).toEqual([
      { name: 'bash', version: '5.2.15-2+b7' },
      { name: 'tmux', version: '3.3a-3' },
    ]);
  });
});

describe('parseOsRelease and distroName', () => {
  it.each([
    ['PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n', 'debian-bookworm'],
    ['NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n', 'alpine-3.19.1'],
    ['ID=arch\n', 'arch'],
    ['ID="bad id; rm"\n', 'unknown'],
    ['', 'unknown'],
  ])('%j -> %s', (text, name) => {
    expect(distroName(parseOsRelease(text))).toBe(name);
  });

  it('unquotes values', () => {
    expect(parseOsRelease('NAME="A \\"quoted\\" name"\nX=\'single\'')).toEqual({ NAME: 'A "quoted" name', X: 'single' });
  });
});

describe('debianArch', () => {
  it.each([
    ['x64', 'amd64'],
    ['arm64', 'arm64'],
    ['riscv64', 'riscv64'],
  ])('%s -> %s', (node, deb) => {
    expect(debianArch(node)).toBe(deb);
  });
});
