import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeStagingDir, removeStaleStaging } from './staging.js';

let parent: string;
beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'banger-staging-'));
});
afterAll(async () => {
  await rm(parent, { recursive: true, force: true });
});

describe('staging directories', () => {
  it('are named with the owning pid', async () => {
    const dir = await makeStagingDir(join(parent, 'new'), 'kernel-');
    expect(basename(dir)).toMatch(new RegExp(`^kernel-${process.pid}-`));
  });

  it('removes only abandoned ones (dead pid or malformed), keeping live and foreign ones', async () => {
    const dead = 'kernel-999999999-abc'; // above any pid_max
    const live = `kernel-${process.ppid}-abc`;
    const ours = await makeStagingDir(parent, 'kernel-');
    const malformed = 'kernel-junk';
    const other = 'image-999999999-abc';
    for (const n of [dead, live, malformed, other]) await mkdir(join(parent, n, 'sub'), { recursive: true });
    const removed = await removeStaleStaging(parent, 'kernel-');
    expect(removed.sort()).toEqual([dead, malformed].sort());
    expect((await readdir(parent)).filter((n) => n !== 'new').sort()).toEqual([basename(ours), live, other].sort());
  });

  it('tolerates a missing parent', async () => {
    expect(await removeStaleStaging(join(parent, 'absent'), 'kernel-')).toEqual([]);
  });
});
