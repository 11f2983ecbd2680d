import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileInRoot, resolveInRoot } from './rootpath.js';

let base: string;
let root: string;
let outside: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'banger-rootpath-'));
  root = join(base, 'root');
  outside = join(base, 'outside');
  await mkdir(join(root, 'usr/lib'), { recursive: true });
  await mkdir(join(root, 'etc'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, 'secret'), 'host secret');
  await writeFile(join(root, 'usr/lib/os-release'), 'ID=debian\n');
  await writeFile(join(root, 'secret'), 'guest secret');
  await symlink('../usr/lib/os-release', join(root, 'etc/os-release'));
  await symlink('usr/lib', join(root, 'lib'));
  // Hostile links: absolute and climbing, both aimed at the host directory next to the root.
  await symlink(join(outside, 'secret'), join(root, 'etc/abs'));
  await symlink('../../../../outside/secret', join(root, 'etc/climb'));
  await symlink('/etc/loop', join(root, 'etc/loop'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('resolveInRoot', () => {
  it('follows relative symlinks inside the root', async () => {
    expect(await resolveInRoot(root, '/etc/os-release')).toBe(join(root, 'usr/lib/os-release'));
    expect(await resolveInRoot(root, 'lib/os-release')).toBe(join(root, 'usr/lib/os-release'));
  });

  it('resolves absolute targets against the root, not the host', async () => {
    // The target is `<base>/outside/secret`; inside the root that path does not exist.
    expect(await resolveInRoot(root, 'etc/abs')).toBeNull();
  });

  it('clamps ".." at the root', async () => {
    // `../../../../outside/secret` from /etc is /outside/secret in the guest: absent there.
    expect(await resolveInRoot(root, 'etc/climb')).toBeNull();
    expect(await resolveInRoot(root, '../../secret')).toBe(join(root, 'secret'));
  });

  it('returns null for a missing path', async () => {
    expect(await resolveInRoot(root, 'etc/nope/x')).toBeNull();
  });

  it('fails on a symlink loop', async () => {
    await expect(resolveInRoot(root, 'etc/loop')).rejects.toThrow(/too many symlinks/);
  });
});

describe('readFileInRoot', () => {
  it('reads through in-root symlinks', async () => {
    expect(await readFileInRoot(root, 'etc/os-release')).toBe('ID=debian\n');
  });

  it('never reads the host file a hostile symlink names', async () => {
    expect(await readFileInRoot(root, 'etc/abs')).toBeNull();
    expect(await readFileInRoot(root, 'etc/climb')).toBeNull();
  });

  it('returns null for a directory', async () => {
    expect(await readFileInRoot(root, 'usr')).toBeNull();
  });
});
