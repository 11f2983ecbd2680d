import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkIntegrity, MISE_PINS, tarballUrl } from './mise.js';

describe('mise pin', () => {
  it('points at the npm tarball of the arch package', () => {
    expect(tarballUrl(MISE_PINS.x64)).toBe(`https://registry.npmjs.org/@jdxcode/mise-linux-x64/-/mise-linux-x64-${MISE_PINS.x64.version}.tgz`);
    expect(tarballUrl(MISE_PINS.x64, 'http://127.0.0.1:9/')).toMatch(/^http:\/\/127\.0\.0\.1:9\/@jdxcode\//);
    expect(MISE_PINS.x64.integrity).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
  });

  it('accepts the pinned sha512 and refuses anything else', () => {
    const data = Buffer.from('mise');
    const digest = createHash('sha512').update(data).digest();
    expect(() => checkIntegrity('x', `sha512-${digest.toString('base64')}`, digest)).not.toThrow();
    expect(() => checkIntegrity('x', MISE_PINS.x64.integrity, digest)).toThrow(/checksum mismatch for x/);
    expect(() => checkIntegrity('x', 'sha1-abc', digest)).toThrow(/unsupported integrity/);
  });
});
