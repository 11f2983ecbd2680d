/**
 * `image pull` of OCI references against a real registry (Debian's docker-registry on 127.0.0.1),
 * images pushed with skopeo from layouts this test writes; `image import --docker-archive` and
 * `--oci-layout`. The produced rootfs.ext4 is read with debugfs (nothing mounted).
 */
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../host/exec.js';
import { resolvePaths, type Paths } from '../../../store/paths.js';
import {
  busyboxRootfs,
  ext4Cat,
  ext4List,
  ext4Stat,
  pushLayout,
  registryUnavailableReason,
  startRegistry,
  writeIndexLayout,
  writeOciLayout,
  type EntrySpec,
  type TestRegistry,
} from '../../../../test/registry.fixture.js';
import { importDockerArchive, importOciLayout, pullOciImage } from './pull.js';

const skip = await registryUnavailableReason();
if (skip) console.warn(`skipping OCI pull tests: ${skip}`);

const RUNTIME = { Env: ['PATH=/bin', 'GREETING=hello world'], WorkingDir: '/srv', User: 'app', Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo hi'] };
const EXPECTED_RUNTIME = { env: ['PATH=/bin', 'GREETING=hello world'], workingDir: '/srv', user: 'app', entrypoint: ['/bin/sh', '-c'], cmd: ['echo hi'] };

describe.skipIf(skip)('OCI pull from a real registry', () => {
  let reg: TestRegistry;
  let tmp: string;
  let paths: Paths;
  let busybox: EntrySpec[];
  const rootfs = (sha: string) => paths.imageFile(sha, 'rootfs');
  const registered = async () => (await readdir(paths.imagesDir).catch(() => [])).length;
  const stagingLeft = async () => (await readdir(paths.stagingDir).catch(() => [])).filter((n) => !n.startsWith('.'));

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'banger-ocipull-'));
    paths = resolvePaths({ HOME: join(tmp, 'home'), XDG_STATE_HOME: join(tmp, 'state'), XDG_CACHE_HOME: join(tmp, 'cache'), XDG_RUNTIME_DIR: join(tmp, 'run') });
    reg = await startRegistry();
    busybox = await busyboxRootfs();
    await writeOciLayout(join(tmp, 'bb'), { layers: [busybox], config: RUNTIME });
    await pushLayout(join(tmp, 'bb'), 'latest', `${reg.host}/busybox:1`);
  }, 60_000);
  afterAll(async () => {
    await reg?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('pulls a busybox-static-only image into an ext4 with its runtime config in the manifest', async () => {
    const r = await pullOciImage({ paths, size: '64M', name: 'bb', ref: `${reg.host}/busybox:1`, insecure: true });
    expect(r.manifest).toMatchObject({ name: 'bb', source: 'pull', distro: 'busybox', kernelRef: null, runtime: EXPECTED_RUNTIME });
    const img = rootfs(r.manifest.sha256);
    expect(await ext4Cat(img, '/bin/busybox')).toEqual(await readFile('/bin/busybox'));
    expect(await ext4Stat(img, '/bin/sh')).toMatch(/Type: symlink[\s\S]*Fast link dest: "busybox"/);
    expect(await ext4Stat(img, '/tmp')).toMatch(/Mode:\s+01777/);
    expect(JSON.parse(await readFile(paths.imageFile(r.manifest.sha256, 'manifest'), 'utf8'))).toMatchObject({ runtime: EXPECTED_RUNTIME });
    expect(await stagingLeft()).toEqual([]);
  });

  it('a second pull reuses the cached layer: the registry serves the layer blob once', async () => {
    await writeOciLayout(join(tmp, 'cache'), { layers: [busybox, [{ name: 'etc/marker', type: 'file', body: 'cache test' }]] });
    await pushLayout(join(tmp, 'cache'), 'latest', `${reg.host}/cached:1`);
    const layer = JSON.parse(await readFile(join(tmp, 'cache', 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(await readFile(join(tmp, 'cache', 'blobs', 'sha256', layer.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
    const top = manifest.layers[1]!.digest;
    const gets = async () => (await reg.log()).split('\n').filter((l) => l.includes('GET') && l.includes(`/v2/cached/blobs/${top}`)).length;
    await pullOciImage({ paths, size: '64M', name: 'cached-a', ref: `${reg.host}/cached:1`, insecure: true });
    expect(await gets()).toBe(1);
    const progress: string[] = [];
    const r = await pullOciImage({ paths, size: '64M', name: 'cached-b', ref: `${reg.host}/cached:1`, insecure: true, progress: (s, m) => progress.push(`${s}: ${m}`) });
    expect(await gets()).toBe(1);
    expect((await ext4Cat(rootfs(r.manifest.sha256), '/etc/marker'))?.toString()).toBe('cache test');
    expect(progress.some((p) => p.startsWith('layers: applying layer 2/2'))).toBe(true);
  });

  it('applies layers in order: whiteouts remove, an opaque directory hides lower content, upper files replace', async () => {
    const layers: EntrySpec[][] = [
      [
        ...busybox,
        { name: 'etc/old.conf', type: 'file', body: 'old' },
        { name: 'etc/keep.conf', type: 'file', body: 'v1' },
        { name: 'opt/', type: 'directory' },
        { name: 'opt/app/', type: 'directory' },
        { name: 'opt/app/lib.so', type: 'file', body: 'lower' },
        { name: 'opt/app/sub/', type: 'directory' },
        { name: 'opt/app/sub/x', type: 'file', body: 'lower' },
        { name: 'var/', type: 'directory' },
        { name: 'var/cache/', type: 'directory' },
        { name: 'var/cache/big', type: 'file', body: 'junk' },
      ],
      [
        { name: 'etc/.wh.old.conf', type: 'file' },
        { name: 'etc/keep.conf', type: 'file', body: 'v2' },
        { name: 'opt/app/', type: 'directory' },
        { name: 'opt/app/.wh..wh..opq', type: 'file' },
        { name: 'opt/app/new.so', type: 'file', body: 'upper' },
      ],
      [{ name: 'var/.wh.cache', type: 'file' }, { name: 'etc/third', type: 'file', body: '3' }],
    ];
    await writeOciLayout(join(tmp, 'multi'), { layers, config: { Env: ['A=1'] } });
    await pushLayout(join(tmp, 'multi'), 'latest', `${reg.host}/multi:1`);
    const r = await pullOciImage({ paths, size: '64M', name: 'multi', ref: `${reg.host}/multi:1`, insecure: true });
    const img = rootfs(r.manifest.sha256);
    const etc = await ext4List(img, '/etc');
    expect(etc).toContain('keep.conf');
    expect(etc).toContain('third');
    expect(etc).not.toContain('old.conf');
    expect(etc).not.toContain('.wh.old.conf');
    expect((await ext4Cat(img, '/etc/keep.conf'))?.toString()).toBe('v2');
    expect(await ext4List(img, '/opt/app')).toEqual(['new.so']);
    expect(await ext4List(img, '/var')).toEqual([]);
    expect(r.manifest.runtime).toEqual({ env: ['A=1'], workingDir: null, user: null, entrypoint: [], cmd: [] });
  });

  describe('hostile images are refused, the entry named, nothing registered', () => {
    const cases: [string, EntrySpec[][], RegExp][] = [
      ['dotdot', [[{ name: '../escape', type: 'file', body: 'x' }]], /entry "\.\.\/escape": "\.\." path component/],
      ['absolute', [[{ name: '/etc/evil', type: 'file', body: 'x' }]], /entry "\/etc\/evil": absolute path/],
      ['symlink-then-file', [[{ name: 'etc', type: 'symlink', linkname: '/host-etc' }], [{ name: 'etc/passwd', type: 'file', body: 'x' }]], /layer 2\/2 .*entry "etc\/passwd": lies under the symlink "etc"/],
      ['hardlink-outside', [[{ name: 'shadow', type: 'link', linkname: '../../../etc/shadow' }]], /entry "shadow": hard link target: "\.\." path component/],
      ['parent-whiteout', [[{ name: 'a/', type: 'directory' }, { name: 'a/b', type: 'file', body: 'x' }], [{ name: 'a/.wh...', type: 'file' }]], /entry "a\/\.wh\.\.\.": whiteout names "\.\."/],
      ['device', [[{ name: 'dev/', type: 'directory' }, { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 }]], /entry "dev\/sda": device node/],
    ];
    it.each(cases)('%s', async (repo, layers, message) => {
      await writeOciLayout(join(tmp, `bad-${repo}`), { layers });
      await pushLayout(join(tmp, `bad-${repo}`), 'latest', `${reg.host}/${repo}:1`);
      const before = await registered();
      await expect(pullOciImage({ paths, size: '64M', name: repo, ref: `${reg.host}/${repo}:1`, insecure: true })).rejects.toThrow(message);
      expect(await registered()).toBe(before);
      expect(await stagingLeft()).toEqual([]);
    });

    it('a blob the registry serves corrupted', async () => {
      // A layer no other test has: the registry stores blobs once for all repositories.
      const w = await writeOciLayout(join(tmp, 'corrupt'), { layers: [[{ name: 'only-in-corrupt', type: 'file', body: 'corrupt test' }]] });
      await pushLayout(join(tmp, 'corrupt'), 'latest', `${reg.host}/corrupt:1`);
      await reg.corruptBlob(w.layers[0]!);
      const before = await registered();
      await expect(pullOciImage({ paths, size: '64M', name: 'corrupt', ref: `${reg.host}/corrupt:1`, insecure: true })).rejects.toThrow(/digest/);
      expect(await registered()).toBe(before);
    });

    it('a blob in the local cache that no longer matches its digest is refused and dropped from the cache', async () => {
      const w = await writeOciLayout(join(tmp, 'cachebad'), { layers: [busybox, [{ name: 'x', type: 'file', body: 'x' }]] });
      await pushLayout(join(tmp, 'cachebad'), 'latest', `${reg.host}/cachebad:1`);
      await pullOciImage({ paths, size: '64M', name: 'cachebad', ref: `${reg.host}/cachebad:1`, insecure: true });
      const cached = join(paths.ociBlobsDir, 'sha256', w.layers[1]!.slice(7));
      const bytes = await readFile(cached);
      bytes[bytes.length - 1] ^= 0xff;
      await writeFile(cached, bytes);
      await expect(pullOciImage({ paths, size: '64M', name: 'cachebad2', ref: `${reg.host}/cachebad:1`, insecure: true })).rejects.toThrow(
        new RegExp(`blob ${w.layers[1]} does not match its descriptor`),
      );
      // Dropped: the next pull fetches it again and succeeds.
      await expect(pullOciImage({ paths, size: '64M', name: 'cachebad2', ref: `${reg.host}/cachebad:1`, insecure: true })).resolves.toBeTruthy();
    });

    it('an index with another architecture only', async () => {
      await writeIndexLayout(join(tmp, 'arm'), [{ layers: [busybox], architecture: 'arm64' }]);
      await pushLayout(join(tmp, 'arm'), '*', `${reg.host}/armonly:1`);
      await expect(pullOciImage({ paths, size: '64M', name: 'armonly', ref: `${reg.host}/armonly:1`, insecure: true })).rejects.toThrow(/no linux\/amd64 image \(it has linux\/arm64\)/);
    });

    it('a single manifest whose config is for another architecture', async () => {
      await writeOciLayout(join(tmp, 'arm1'), { layers: [busybox], architecture: 'arm64' });
      await pushLayout(join(tmp, 'arm1'), 'latest', `${reg.host}/arm1:1`);
      await expect(pullOciImage({ paths, size: '64M', name: 'arm1', ref: `${reg.host}/arm1:1`, insecure: true })).rejects.toThrow(/no linux\/amd64 image \(it has linux\/arm64\)/);
    });

    it('an index picks linux/amd64 among platforms', async () => {
      await writeIndexLayout(join(tmp, 'multiarch'), [
        { layers: [[{ name: 'arch', type: 'file', body: 'arm64' }]], architecture: 'arm64' },
        { layers: [[{ name: 'arch', type: 'file', body: 'amd64' }]], architecture: 'amd64' },
      ]);
      await pushLayout(join(tmp, 'multiarch'), '*', `${reg.host}/multiarch:1`);
      const r = await pullOciImage({ paths, size: '64M', name: 'multiarch', ref: `${reg.host}/multiarch:1`, insecure: true });
      expect((await ext4Cat(rootfs(r.manifest.sha256), '/arch'))?.toString()).toBe('amd64');
    });
  });

  it('a plain-HTTP registry without --insecure says to pass it', async () => {
    await expect(pullOciImage({ paths, size: '64M', name: 'x', ref: `${reg.host}/busybox:1` })).rejects.toThrow(/--insecure/);
  });

  it('an unknown image is not_found', async () => {
    await expect(pullOciImage({ paths, size: '64M', name: 'x', ref: `${reg.host}/nothing:1`, insecure: true })).rejects.toMatchObject({ code: 'not_found' });
  });

  describe('with basic auth', () => {
    let authReg: TestRegistry;
    beforeAll(async () => {
      authReg = await startRegistry({ auth: { user: 'alice', password: 's3cret' } });
      await pushLayout(join(tmp, 'bb'), 'latest', `${authReg.host}/private:1`, authReg.creds);
    }, 60_000);
    afterAll(async () => authReg?.stop());

    it('refuses without credentials, saying how to log in', async () => {
      await expect(pullOciImage({ paths, size: '64M', name: 'priv', ref: `${authReg.host}/private:1`, insecure: true })).rejects.toThrow(/refused access.*log in/);
    });

    it('pulls with the credentials in ~/.docker/config.json', async () => {
      await mkdir(join(paths.home, '.docker'), { recursive: true });
      const auth = Buffer.from('alice:s3cret').toString('base64');
      await writeFile(join(paths.home, '.docker', 'config.json'), JSON.stringify({ auths: { [authReg.host]: { auth } } }));
      try {
        const r = await pullOciImage({ paths, size: '64M', name: 'priv', ref: `${authReg.host}/private:1`, insecure: true });
        expect(r.manifest.runtime).toEqual(EXPECTED_RUNTIME);
      } finally {
        await rm(join(paths.home, '.docker'), { recursive: true, force: true });
      }
    });
  });

  describe('import', () => {
    it('--docker-archive: a `docker save` archive', async () => {
      const archive = join(tmp, 'saved:with-colon.tar');
      await run(['skopeo', 'copy', `oci:${join(tmp, 'bb')}:latest`, `docker-archive:${join(tmp, 'saved.tar')}:busybox:1`]);
      await rename(join(tmp, 'saved.tar'), archive);
      const r = await importDockerArchive({ paths, size: '64M', name: 'from-archive', file: archive });
      expect(r.manifest).toMatchObject({ source: 'import', runtime: EXPECTED_RUNTIME });
      expect(await ext4Cat(rootfs(r.manifest.sha256), '/bin/busybox')).toEqual(await readFile('/bin/busybox'));
    });

    it('--oci-layout DIR and DIR:TAG', async () => {
      const r = await importOciLayout({ paths, size: '64M', name: 'from-layout', layout: join(tmp, 'bb') });
      expect(r.manifest).toMatchObject({ source: 'import', runtime: EXPECTED_RUNTIME });
      const t = await importOciLayout({ paths, size: '64M', name: 'from-layout-tag', layout: `${join(tmp, 'bb')}:latest` });
      expect(t.manifest.runtime).toEqual(EXPECTED_RUNTIME);
      await expect(importOciLayout({ paths, size: '64M', name: 'x', layout: `${join(tmp, 'bb')}:nope` })).rejects.toThrow(/no image tagged "nope"/);
    });

    it('--oci-layout with a tampered blob names it', async () => {
      const w = await writeOciLayout(join(tmp, 'tampered'), { layers: [busybox] });
      const f = join(tmp, 'tampered', 'blobs', 'sha256', w.layers[0]!.slice(7));
      const b = await readFile(f);
      b[b.length - 1] ^= 0xff;
      await writeFile(f, b);
      const before = await registered();
      await expect(importOciLayout({ paths, size: '64M', name: 'tampered', layout: join(tmp, 'tampered') })).rejects.toThrow(new RegExp(`blob ${w.layers[0]} does not match its descriptor`));
      expect(await registered()).toBe(before);
    });

    it('zstd layers', async () => {
      await writeOciLayout(join(tmp, 'zstd'), { layers: [[{ name: 'z', type: 'file', body: 'zstd layer' }], [{ name: 'y', type: 'file', body: 'second' }]], compress: 'zstd' });
      const r = await importOciLayout({ paths, size: '64M', name: 'zstd', layout: join(tmp, 'zstd') });
      expect((await ext4Cat(rootfs(r.manifest.sha256), '/z'))?.toString()).toBe('zstd layer');
      expect((await ext4Cat(rootfs(r.manifest.sha256), '/y'))?.toString()).toBe('second');
    });

    it('a hard-linked file whited out later lives on under its link names', async () => {
      await writeOciLayout(join(tmp, 'hl'), {
        layers: [
          [
            { name: 'usr/', type: 'directory' },
            { name: 'usr/perl5.36', type: 'file', mode: 0o755, body: 'perl binary' },
            { name: 'usr/perl', type: 'link', linkname: 'usr/perl5.36' },
            { name: 'usr/perl-alias', type: 'link', linkname: 'usr/perl5.36' },
          ],
          [{ name: 'usr/.wh.perl5.36', type: 'file' }],
        ],
      });
      const r = await importOciLayout({ paths, size: '64M', name: 'hardlinks', layout: join(tmp, 'hl') });
      const img = rootfs(r.manifest.sha256);
      expect(await ext4List(img, '/usr')).toEqual(['perl', 'perl-alias']);
      expect((await ext4Cat(img, '/usr/perl'))?.toString()).toBe('perl binary');
      expect(await ext4Stat(img, '/usr/perl-alias')).toMatch(/Links: 2/);
    });

    it('uncompressed layers work too', async () => {
      await writeOciLayout(join(tmp, 'plain'), { layers: [[{ name: 'hello', type: 'file', body: 'plain' }]], compress: false });
      const r = await importOciLayout({ paths, size: '64M', name: 'plain', layout: join(tmp, 'plain') });
      expect((await ext4Cat(rootfs(r.manifest.sha256), '/hello'))?.toString()).toBe('plain');
    });
  });
});
