import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePaths, type Paths } from '../store/paths.js';
import { cleanStaleStaging, createStaging, parseMountPoints, parseProcStartTime } from './staging.js';

let base: string;
let paths: Paths;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'banger-staging-'));
  paths = resolvePaths({ HOME: base, XDG_STATE_HOME: join(base, 'state'), XDG_RUNTIME_DIR: join(base, 'run') });
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('parseProcStartTime', () => {
  it('reads field 22, even when the command name has spaces and parens', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    const stat = `1234 (my (odd) cmd) ${fields.join(' ')}`;
    expect(parseProcStartTime(stat)).toBe('22');
  });
  it('returns null on garbage', () => {
    expect(parseProcStartTime('garbage')).toBeNull();
  });
});

describe('parseMountPoints', () => {
  it('takes field 5 and decodes octal escapes', () => {
    const info = [
      '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
      '40 22 0:5 / /tmp/with\\040space/dev rw - devtmpfs udev rw',
      '',
    ].join('\n');
    expect(parseMountPoints(info)).toEqual(['/', '/tmp/with space/dev']);
  });
});

describe('staging directories', () => {
  it('keeps live staging and removes the staging of a dead owner', async () => {
    const live = await createStaging(paths, 'build');
    const dead = join(paths.stagingDir, 'image-build-dead0000');
    await mkdir(join(dead, 'root/etc'), { recursive: true });
    await writeFile(join(dead, 'owner'), '999999999 12345\n');
    const ownerless = join(paths.stagingDir, 'image-pull-noowner');
    await mkdir(ownerless);
    const unrelated = join(paths.stagingDir, 'kernel-pull-1234');
    await mkdir(unrelated);

    const removed = await cleanStaleStaging(paths);
    expect(removed.sort()).toEqual([dead, ownerless].sort());
    expect((await readdir(paths.stagingDir)).sort()).toEqual([live.dir.split('/').pop(), 'kernel-pull-1234'].sort());

    await live.remove();
    await live.remove(); // idempotent
    await expect(stat(live.dir)).rejects.toThrow(/ENOENT/);
  });
});
