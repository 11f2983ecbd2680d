/**
 * Kernel and image commands through the real CLI and daemon (no VM is booted): registry by name,
 * refusal to delete what is in use, tar import from stdin with a hostile tar refused, bundle export.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshInstall, type Install } from '../../test/install.fixture.js';

let inst: Install;
beforeAll(async () => {
  inst = await freshInstall();
}, 1_800_000);
afterAll(async () => {
  await inst?.destroy();
});

async function tarOf(entries: Array<{ name: string; type?: 'file' | 'symlink' | 'directory'; linkname?: string; body?: string }>): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: 0o755 }, e.body ?? '');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('kernel and image registry via the CLI', () => {
  it('lists the default kernel and image as JSON', async () => {
    const k = JSON.parse((await inst.cli(['kernel', 'list', '--json'])).stdout);
    expect(k.kernels.map((m: { name: string }) => m.name)).toEqual(['debian-cloud']);
    const i = JSON.parse((await inst.cli(['image', 'list', '--json'])).stdout);
    expect(i.images.map((m: { name: string }) => m.name)).toEqual(['debian-bookworm']);
    expect((await inst.cli(['image', 'show', 'nope'])).code).toBe(3);
  });

  it('refuses to delete a kernel or image a VM uses, naming the VM', async () => {
    expect((await inst.cli(['vm', 'create', '--name', 'holder', '--no-start'])).code).toBe(0);
    const img = await inst.cli(['image', 'delete', 'debian-bookworm']);
    expect(img.code).toBe(5);
    expect(img.stderr).toMatch(/used by VM holder/);
    const k = await inst.cli(['kernel', 'rm', 'debian-cloud']);
    expect(k.code).toBe(5);
    expect(k.stderr).toMatch(/VM holder/);
    expect(k.stderr).toMatch(/image debian-bookworm/);
    expect((await inst.cli(['vm', 'delete', 'holder'])).code).toBe(0);
  });

  it('imports a rootfs tar from stdin, exports a bundle, and refuses a hostile tar registering nothing', async () => {
    const good = await tarOf([{ name: 'etc/', type: 'directory' }, { name: 'etc/os-release', body: 'ID=tiny\n' }, { name: 'bin/sh', body: '#!/x\n' }]);
    const imp = await inst.cli(['image', 'import', 'tiny', '--rootfs-tar', '-', '--size', '64M'], { input: good });
    expect(imp.code, imp.stderr).toBe(0);
    const out = join(inst.root, 'tiny.tar.zst');
    const exp = await inst.cli(['image', 'export', 'tiny', '-o', out]);
    expect(exp.code).toBe(0);
    expect(existsSync(out)).toBe(true);
    expect(exp.stdout).toMatch(/sha256 [0-9a-f]{64}/);

    const hostile = await tarOf([{ name: 'ok', body: 'x' }, { name: 'evil', type: 'symlink', linkname: '../../../etc/passwd' }]);
    const bad = await inst.cli(['image', 'import', 'evil', '--rootfs-tar', '-'], { input: hostile });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('evil');
    const names = JSON.parse((await inst.cli(['image', 'list', '--json'])).stdout).images.map((m: { name: string }) => m.name);
    expect(names).toEqual(['debian-bookworm', 'tiny']);
    expect((await inst.cli(['image', 'delete', 'tiny'])).code).toBe(0);
  });
});
