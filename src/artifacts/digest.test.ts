import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BangerError } from '../api/errors.js';
import { sha256File, verifySha256 } from './digest.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'banger-digest-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sha256File', () => {
  it('hashes the file content (known vectors)', async () => {
    await writeFile(join(dir, 'abc'), 'abc');
    await writeFile(join(dir, 'empty'), '');
    expect(await sha256File(join(dir, 'abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(await sha256File(join(dir, 'empty'))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('hashes a file larger than one read chunk', async () => {
    await writeFile(join(dir, 'big'), Buffer.alloc(3 * 1024 * 1024 + 7, 0x61));
    expect(await sha256File(join(dir, 'big'))).toMatch(/^[0-9a-f]{64}$/);
    await writeFile(join(dir, 'big2'), Buffer.alloc(3 * 1024 * 1024 + 7, 0x61));
    expect(await sha256File(join(dir, 'big2'))).toBe(await sha256File(join(dir, 'big')));
  });
});

describe('verifySha256', () => {
  const a = 'a'.repeat(64);
  it('accepts equal digests, case-insensitively', () => {
    expect(() => verifySha256('bundle', a, a.toUpperCase())).not.toThrow();
  });

  it('rejects a mismatch with a clear error naming what was checked', () => {
    let err: unknown;
    try {
      verifySha256('bundle x.tar.zst', a, 'b'.repeat(64));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BangerError);
    expect((err as BangerError).code).toBe('bad_request');
    expect((err as BangerError).message).toMatch(/sha256 mismatch for bundle x\.tar\.zst: expected a{64}, got b{64}.*nothing was registered/);
  });
});
