import { describe, expect, it } from 'vitest';
import { chooseManifest, runtimeFromConfig, type Descriptor } from './layout.js';

const desc = (arch: string | null, ref?: string): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${(arch ?? 'x').padEnd(64, '0').slice(0, 64).replace(/[^0-9a-f]/g, 'a')}`,
  size: 10,
  ...(arch ? { platform: { os: 'linux', architecture: arch } } : {}),
  ...(ref ? { annotations: { 'org.opencontainers.image.ref.name': ref } } : {}),
});

describe('chooseManifest', () => {
  it.each<[string, Descriptor[], string | undefined, string | RegExp]>([
    ['the amd64 entry of an index', [desc('arm64'), desc('amd64'), desc('s390x')], undefined, 'amd64'],
    ['an entry without a platform (checked by its config later)', [desc(null)], undefined, 'x'],
    ['the tagged one of several', [desc('amd64', 'a'), desc('amd64', 'b')], 'b', 'b'],
    ['other architectures only', [desc('arm64'), desc('ppc64le')], undefined, /no linux\/amd64 image \(it has linux\/arm64, linux\/ppc64le\)/],
    ['several without a tag', [desc('amd64', 'a'), desc('amd64', 'b')], undefined, /holds 2 linux\/amd64 images \(a, b\); name one as DIR:TAG/],
    ['an unknown tag', [desc('amd64', 'a')], 'zz', /no image tagged "zz" \(it has: a\)/],
    ['an empty index', [], undefined, /no linux\/amd64 image \(it has nothing\)/],
  ])('%s', (_n, manifests, ref, expected) => {
    const c = chooseManifest(manifests, 'L', ref);
    if (typeof expected === 'string') {
      expect(c.ok).toBe(true);
      if (c.ok) expect(c.descriptor.platform?.architecture ?? c.descriptor.annotations?.['org.opencontainers.image.ref.name'] ?? 'x').toBe(expected === 'b' ? 'amd64' : expected);
      if (c.ok && ref) expect(c.descriptor.annotations?.['org.opencontainers.image.ref.name']).toBe(ref);
    } else {
      expect(c.ok).toBe(false);
      if (!c.ok) expect(c.error.message).toMatch(expected);
    }
  });
});

describe('runtimeFromConfig', () => {
  it.each([
    [{ architecture: 'amd64', os: 'linux' }, { env: [], workingDir: null, user: null, entrypoint: [], cmd: [] }],
    [{ architecture: 'amd64', os: 'linux', config: null }, { env: [], workingDir: null, user: null, entrypoint: [], cmd: [] }],
    [
      { architecture: 'amd64', os: 'linux', config: { Env: ['A=1', 'B=x=y'], WorkingDir: '', User: '', Entrypoint: null, Cmd: ['sh'] } },
      { env: ['A=1', 'B=x=y'], workingDir: null, user: null, entrypoint: [], cmd: ['sh'] },
    ],
    [
      { architecture: 'amd64', os: 'linux', config: { WorkingDir: '/app', User: '1000:1000', Entrypoint: ['/entry.sh'], Labels: { x: 'y' } } },
      { env: [], workingDir: '/app', user: '1000:1000', entrypoint: ['/entry.sh'], cmd: [] },
    ],
  ])('%j', (cfg, expected) => {
    expect(runtimeFromConfig(cfg)).toEqual(expected);
  });
});
