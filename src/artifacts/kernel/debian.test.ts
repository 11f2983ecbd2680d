import { describe, expect, it } from 'vitest';
import { debFileName, parseAptShow, parseDependsField } from './debian.js';

const SHOW_META = `Package: linux-image-cloud-amd64
Source: linux-signed-amd64 (6.1.192+2)
Version: 6.1.192-2
Installed-Size: 13
Depends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)
Description-en: Linux for x86-64 cloud (meta-package)
 This package depends on the latest Linux kernel and modules
 for use on cloud platforms.
Filename: pool/updates/main/l/linux-signed-amd64/linux-image-cloud-amd64_6.1.192-2_amd64.deb
Size: 1488
SHA256: 0d5e8ae37ab4ba9a6a1fa5b4e02ae16b1ba6f0b3f0c1e42fc2f5c36c5e22e0f1

Package: linux-image-cloud-amd64
Version: 6.1.176-1
Depends: linux-image-6.1.0-47-cloud-amd64 (= 6.1.176-1)
`;

const SHOW_IMAGE = `Package: linux-image-6.1.0-56-cloud-amd64
Source: linux-signed-amd64 (6.1.192+2)
Version: 6.1.192-2
Architecture: amd64
Depends: kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool
Filename: pool/updates/main/l/linux-signed-amd64/linux-image-6.1.0-56-cloud-amd64_6.1.192-2_amd64.deb
Size: 26713492
SHA256: e7d02b943971edcb8790e256c02cfab3bca6c3d37c1bf25392a57c71300615ee
`;

describe('parseAptShow', () => {
  it('reads the first stanza of a metapackage', () => {
    expect(parseAptShow(SHOW_META)).toMatchObject({
      package: 'linux-image-cloud-amd64',
      version: '6.1.192-2',
      depends: ['linux-image-6.1.0-56-cloud-amd64'],
      size: 1488,
    });
  });

  it('reads the download fields of an image package', () => {
    const p = parseAptShow(SHOW_IMAGE)!;
    expect(p).toMatchObject({
      package: 'linux-image-6.1.0-56-cloud-amd64',
      architecture: 'amd64',
      depends: ['kmod', 'linux-base', 'initramfs-tools'],
      size: 26713492,
      sha256: 'e7d02b943971edcb8790e256c02cfab3bca6c3d37c1bf25392a57c71300615ee',
    });
    expect(debFileName(p)).toBe('linux-image-6.1.0-56-cloud-amd64_6.1.192-2_amd64.deb');
  });

  it('returns null for output without a package', () => {
    expect(parseAptShow('')).toBeNull();
    expect(parseAptShow('N: Unable to locate package x\n')).toBeNull();
  });
});

describe('parseDependsField', () => {
  it.each([
    ['', []],
    ['a', ['a']],
    ['a (>= 1.0), b:any, c | d (<< 2)', ['a', 'b', 'c']],
    ['linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)', ['linux-image-6.1.0-56-cloud-amd64']],
  ])('%j -> %j', (value, expected) => expect(parseDependsField(value)).toEqual(expected));
});

describe('debFileName', () => {
  it('escapes an epoch when apt gave no pool path', () => {
    expect(debFileName({ package: 'p', version: '1:2.0-1', depends: [] })).toBe('p_1%3a2.0-1_amd64.deb');
  });
});
