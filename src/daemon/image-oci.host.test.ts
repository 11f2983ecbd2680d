/**
 * The OCI verbs through the real CLI and a real daemon of an isolated install (no kernel, no VM):
 * `image pull REF` from a real registry on 127.0.0.1, `image import --docker-archive/--oci-layout`,
 * `image build --dockerfile` with buildah FROM that registry. The produced ext4 is read with
 * debugfs; hostile images leave nothing registered and the daemon keeps answering.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, which } from '../host/exec.js';
import { makeInstall, type Install } from '../../test/install.fixture.js';
import { busyboxRootfs, ext4Cat, ext4List, pushLayout, registryUnavailableReason, startRegistry, writeOciLayout, type TestRegistry } from '../../test/registry.fixture.js';

const skip = (await registryUnavailableReason()) ?? ((await which('buildah')) === null ? 'buildah is not installed' : null);
if (skip) console.warn(`skipping OCI CLI tests: ${skip}`);

describe.skipIf(skip)('OCI images through the CLI', () => {
  let inst: Install;
  let reg: TestRegistry;
  let work: string;
  const images = () => (existsSync(join(inst.stateDir, 'images')) ? readdirSync(join(inst.stateDir, 'images')) : []);
  const rootfs = (m: { sha256: string }) => join(inst.stateDir, 'images', m.sha256, 'rootfs.ext4');

  beforeAll(async () => {
    work = mkdtempSync('/tmp/boci-');
    inst = makeInstall(join(work, 'inst'));
    reg = await startRegistry();
    await writeOciLayout(join(work, 'bb'), {
      layers: [await busyboxRootfs()],
      config: { Env: ['PATH=/bin', 'BASE=1'], WorkingDir: '/', Cmd: ['/bin/sh'] },
    });
    await pushLayout(join(work, 'bb'), 'latest', `${reg.host}/busybox:1`);
    await writeOciLayout(join(work, 'evil'), { layers: [[{ name: 'etc', type: 'symlink', linkname: '/etc' }], [{ name: 'etc/cron.d/x', type: 'file', body: 'x' }]] });
    await pushLayout(join(work, 'evil'), 'latest', `${reg.host}/evil:1`);
  }, 120_000);
  afterAll(async () => {
    await inst?.destroy();
    await reg?.stop();
  });

  it('image pull REF --json registers the image with its runtime config', async () => {
    const r = await inst.cli(['image', 'pull', '--insecure', '--size', '64M', '--json', `${reg.host}/busybox:1`]);
    expect(r.code, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m).toMatchObject({ name: 'busybox-1', source: 'pull', runtime: { env: ['PATH=/bin', 'BASE=1'], workingDir: '/', user: null, entrypoint: [], cmd: ['/bin/sh'] } });
    expect(r.stderr).toMatch(/applying layer 1\/1/);
    expect(await ext4Cat(rootfs(m), '/bin/busybox')).toEqual(readFileSync('/bin/busybox'));
    const list = await inst.cli(['image', 'list', '--json']);
    expect(JSON.parse(list.stdout).images.map((i: { name: string }) => i.name)).toContain('busybox-1');
    const again = await inst.cli(['image', 'pull', '--insecure', '--size', '64M', `${reg.host}/busybox:1`]);
    expect(again.code).toBe(5 /* conflict */);
    expect(again.stderr).toMatch(/already exists.*--force/);
  });

  it('a hostile image is refused naming the entry; nothing registered; the daemon keeps answering', async () => {
    const before = images();
    const r = await inst.cli(['image', 'pull', '--insecure', `${reg.host}/evil:1`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/entry "etc\/cron\.d\/x": lies under the symlink "etc"/);
    expect(images()).toEqual(before);
    expect((await inst.cli(['image', 'show', 'evil-1'])).code).toBe(3 /* not_found */);
    expect((await inst.cli(['daemon', 'status'])).code).toBe(0);
  });

  it('image import --docker-archive and --oci-layout; exactly one source', async () => {
    await run(['skopeo', 'copy', `oci:${join(work, 'bb')}:latest`, `docker-archive:${join(work, 'bb.tar')}:busybox:1`]);
    const a = await inst.cli(['image', 'import', 'from-archive', '--docker-archive', join(work, 'bb.tar'), '--size', '64M', '--json']);
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ name: 'from-archive', source: 'import', runtime: { cmd: ['/bin/sh'] } });
    const l = await inst.cli(['image', 'import', 'from-layout', '--oci-layout', join(work, 'bb'), '--size', '64M']);
    expect(l.code, l.stderr).toBe(0);
    expect(l.stdout).toMatch(/^from-layout: imported/);
    const both = await inst.cli(['image', 'import', 'x', '--oci-layout', join(work, 'bb'), '--docker-archive', join(work, 'bb.tar')]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/exactly one of/);
  });

  it('image build --dockerfile FROM the local registry: RUN, COPY, ENV, WORKDIR, build args and target', async () => {
    const ctx = join(work, 'ctx');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'greeting.txt'), 'hello from the context\n');
    writeFileSync(
      join(ctx, 'Dockerfile'),
      [
        `FROM ${reg.host}/busybox:1 AS app`,
        'ARG FLAVOUR=plain',
        'ENV APP_MODE=production',
        'WORKDIR /srv/app',
        'COPY greeting.txt ./greeting.txt',
        'RUN echo "flavour=$FLAVOUR mode=$APP_MODE" > built.txt && rm /etc/os-release',
        'FROM app AS extra',
        'RUN touch /extra',
        '',
      ].join('\n'),
    );
    const r = await inst.cli(['image', 'build', '--name', 'built', '--dockerfile', join(ctx, 'Dockerfile'), '--build-arg', 'FLAVOUR=spicy', '--target', 'app', '--insecure', '--size', '64M', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/STEP|COMMIT/); // buildah's own output streamed as progress
    const m = JSON.parse(r.stdout);
    expect(m).toMatchObject({ name: 'built', source: 'build' });
    expect(m.runtime.env).toContain('APP_MODE=production');
    expect(m.runtime.workingDir).toBe('/srv/app');
    expect(m.runtime.cmd).toEqual(['/bin/sh']);
    const img = rootfs(m);
    expect((await ext4Cat(img, '/srv/app/greeting.txt'))?.toString()).toBe('hello from the context\n');
    expect((await ext4Cat(img, '/srv/app/built.txt'))?.toString()).toBe('flavour=spicy mode=production\n');
    expect(await ext4List(img, '/etc')).not.toContain('os-release'); // RUN's rm: a whiteout applied
    expect(await ext4List(img, '/')).not.toContain('extra'); // --target stopped before the last stage
    const bad = await inst.cli(['image', 'build', '--name', 'broken', '--dockerfile', join(ctx, 'Dockerfile'), '--build-arg', 'no spaces=1', '--insecure']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--build-arg/);
  }, 300_000);
});
