import { existsSync, lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPrivateFile, privateTempDir, writePrivateFile } from './tempfiles.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'banger-tempfiles-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('private temp files', () => {
  it('a private dir is 0700 and removable', async () => {
    const d = await privateTempDir('x-', dir);
    expect(lstatSync(d.path).mode & 0o777).toBe(0o700);
    await d.remove();
    expect(existsSync(d.path)).toBe(false);
  });

  it('never writes through a planted symlink or over an existing file', async () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious\n');
    await symlink(victim, join(dir, 'planted'));
    await expect(writePrivateFile(join(dir, 'planted'), 'evil')).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(openPrivateFile(join(dir, 'planted'))).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(writePrivateFile(victim, 'evil')).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    await writePrivateFile(join(dir, 'fresh'), 'ok');
    expect(lstatSync(join(dir, 'fresh')).mode & 0o777).toBe(0o600);
  });
});
