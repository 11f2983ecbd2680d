/**
 * `image build --dockerfile` at the function level: a client that goes away mid-build stops buildah
 * (the RUN step does not run on to its end) and leaves nothing registered or staged.
 * The successful build is tested through the CLI (daemon/image-oci.host.test.ts).
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, which } from '../../../host/exec.js';
import { resolvePaths, type Paths } from '../../../store/paths.js';
import { busyboxRootfs, pushLayout, registryUnavailableReason, startRegistry, writeOciLayout, type TestRegistry } from '../../../../test/registry.fixture.js';
import { buildDockerfileImage } from './build.js';

const skip = (await registryUnavailableReason()) ?? ((await which('buildah')) === null ? 'buildah is not installed' : null);

describe.skipIf(skip)('image build --dockerfile, cancelled', () => {
  let reg: TestRegistry;
  let tmp: string;
  let paths: Paths;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'banger-ocibuild-'));
    paths = resolvePaths({ HOME: join(tmp, 'home'), XDG_STATE_HOME: join(tmp, 'state'), XDG_CACHE_HOME: join(tmp, 'cache'), XDG_RUNTIME_DIR: join(tmp, 'run') });
    reg = await startRegistry();
    await writeOciLayout(join(tmp, 'bb'), { layers: [await busyboxRootfs()], config: { Env: ['PATH=/bin'] } });
    await pushLayout(join(tmp, 'bb'), 'latest', `${reg.host}/busybox:1`);
  }, 60_000);
  afterAll(async () => {
    await reg?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('stops buildah when the signal aborts; nothing registered, nothing staged', async () => {
    const ctx = join(tmp, 'ctx');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), `FROM ${reg.host}/busybox:1\nRUN echo started && sleep 60 && touch /finished\n`);
    const ac = new AbortController();
    const lines: string[] = [];
    const t0 = Date.now();
    const p = buildDockerfileImage({
      paths,
      name: 'cancelled',
      dockerfile: join(ctx, 'Dockerfile'),
      insecure: true,
      signal: ac.signal,
      progress: (_s, m) => {
        lines.push(m ?? '');
        if (m === 'started') ac.abort();
      },
    });
    await expect(p).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/cancelled/) });
    expect(Date.now() - t0).toBeLessThan(45_000);
    expect(lines).toContain('started');
    expect(await readdir(paths.imagesDir).catch(() => [])).toEqual([]);
    expect((await readdir(paths.stagingDir).catch(() => [])).filter((n) => !n.startsWith('.'))).toEqual([]);
    const imgs = await run(['buildah', '--root', join(paths.buildahDir, 'storage'), '--runroot', join(paths.buildahDir, 'run'), '--storage-driver', 'vfs', 'images', '--format', '{{.Name}}']);
    expect(imgs.stdout).not.toMatch(/banger-build/);
  }, 120_000);
});
