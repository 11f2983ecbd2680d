import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harvestAptArchives } from './aptcache.js';

let base: string;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'banger-aptcache-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('apt archive cache', () => {
  it('keeps exactly the packages the build used', async () => {
    const cache = join(base, 'cache');
    const archives = join(base, 'root/var/cache/apt/archives');
    await mkdir(cache);
    await writeFile(join(cache, 'bash_5.2-1_amd64.deb'), 'bash');
    await writeFile(join(cache, 'curl_7.88-1_amd64.deb'), 'old curl');
    await writeFile(join(cache, 'notes.txt'), 'not a deb');

    // The build seeded its archive directory from the cache (mmdebstrap's sync-in hook in build.ts).
    await mkdir(archives, { recursive: true });
    for (const deb of ['bash_5.2-1_amd64.deb', 'curl_7.88-1_amd64.deb']) await copyFile(join(cache, deb), join(archives, deb));

    // The build upgraded curl and pulled jq: apt replaced one file and added another.
    await rm(join(archives, 'curl_7.88-1_amd64.deb'));
    await writeFile(join(archives, 'curl_7.88-2_amd64.deb'), 'new curl');
    await writeFile(join(archives, 'jq_1.6-2_amd64.deb'), 'jq');
    await mkdir(join(archives, 'partial'));

    expect(await harvestAptArchives(archives, cache)).toEqual({ added: 2, pruned: 1 });
    expect((await readdir(cache)).sort()).toEqual(['bash_5.2-1_amd64.deb', 'curl_7.88-2_amd64.deb', 'jq_1.6-2_amd64.deb', 'notes.txt']);
    expect(await readFile(join(cache, 'curl_7.88-2_amd64.deb'), 'utf8')).toBe('new curl');
    expect(await readdir(archives)).toEqual(['partial']);
  });
});
