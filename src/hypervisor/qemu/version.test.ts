import { describe, expect, it } from 'vitest';
import { atLeast, parseQemuVersion } from './version.js';

describe('parseQemuVersion', () => {
  it.each([
    [
      'Debian 12',
      'QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n',
      { version: '7.2.22', major: 7, minor: 2, micro: 22, package: 'Debian 1:7.2+dfsg-7+deb12u18+b3' },
    ],
    ['upstream build', 'QEMU emulator version 9.1.0\nCopyright (c) 2003-2024\n', { version: '9.1.0', major: 9, minor: 1, micro: 0 }],
    ['Ubuntu', 'QEMU emulator version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1.4)', { version: '8.2.2', major: 8, minor: 2, micro: 2, package: 'Debian 1:8.2.2+ds-0ubuntu1.4' }],
    ['qemu-img', 'qemu-img version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)', { version: '7.2.22', major: 7, minor: 2, micro: 22, package: 'Debian 1:7.2+dfsg-7+deb12u18+b3' }],
    ['two-part', 'QEMU emulator version 6.2 ', { version: '6.2.0', major: 6, minor: 2, micro: 0 }],
  ])('%s', (_l, text, expected) => {
    expect(parseQemuVersion(text)).toEqual(expected);
  });

  it('rejects output without a version', () => {
    expect(() => parseQemuVersion('bash: qemu: command not found')).toThrow(/cannot read the QEMU version/);
  });

  it.each([
    ['7.2.22', 7, 2, true],
    ['7.2.22', 8, 2, false],
    ['8.2.0', 7, 2, true],
    ['7.1.0', 7, 2, false],
  ] as const)('atLeast(%s, %d.%d) = %s', (v, major, minor, expected) => {
    expect(atLeast(parseQemuVersion(`QEMU emulator version ${v}`), major, minor)).toBe(expected);
  });
});
