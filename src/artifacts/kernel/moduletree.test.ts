import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeModule } from '../../../test/elf.fixture.js';
import { indexModuleTree, readBuiltinModules, selectModules } from './moduletree.js';

let root: string;
let tree: string;

async function put(rel: string, data: Buffer | string) {
  await mkdir(dirname(join(tree, rel)), { recursive: true });
  await writeFile(join(tree, rel), data);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'banger-modtree-'));
  tree = join(root, '6.9.0-test');
  await put('kernel/drivers/virtio/virtio_ring.ko', fakeModule(['depends=', 'name=virtio_ring']));
  await put('kernel/drivers/virtio/virtio.ko', fakeModule(['depends=virtio_ring', 'name=virtio']));
  await put('kernel/drivers/block/virtio_blk.ko', fakeModule(['depends=virtio,virtio_ring', 'name=virtio_blk']));
  // Compressed, and with a '-' in the file name.
  await put('kernel/drivers/char/hw_random/virtio-rng.ko.gz', gzipSync(fakeModule(['depends=virtio,virtio_ring', 'name=virtio_rng'])));
  await put('kernel/net/broken.ko', fakeModule(['depends=not_there', 'name=broken']));
  await put('modules.builtin', 'kernel/drivers/virtio/virtio_mmio.ko\n');
  await put('modules.order', 'kernel/drivers/virtio/virtio_ring.ko\n');
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('indexModuleTree / readBuiltinModules', () => {
  it('maps normalised names to files and reads modules.builtin', async () => {
    const index = await indexModuleTree(tree);
    expect(index.get('virtio_rng')).toBe('kernel/drivers/char/hw_random/virtio-rng.ko.gz');
    expect(index.get('virtio_blk')).toBe('kernel/drivers/block/virtio_blk.ko');
    expect(index.has('modules')).toBe(false);
    expect([...(await readBuiltinModules(tree))]).toEqual(['virtio_mmio']);
    expect((await readBuiltinModules(join(root, 'nowhere'))).size).toBe(0);
  });

  it('explains an unreadable tree', async () => {
    await expect(indexModuleTree(join(root, 'nowhere'))).rejects.toThrow(/cannot read the kernel modules tree/);
  });
});

describe('selectModules', () => {
  it('orders wanted modules after their dependencies, skips built-ins, decompresses', async () => {
    const mods = await selectModules(tree, ['virtio_mmio', 'virtio_rng', 'virtio_blk']);
    expect(mods.map((m) => m.name)).toEqual(['virtio_ring', 'virtio', 'virtio_rng', 'virtio_blk']);
    expect(mods.map((m) => m.file)).toEqual(['virtio_ring.ko', 'virtio.ko', 'virtio-rng.ko', 'virtio_blk.ko']);
    expect(mods[2].data.readUInt32BE(0)).toBe(0x7f454c46); // gunzipped
  });

  it('names a wanted module that is neither present nor built in', async () => {
    await expect(selectModules(tree, ['virtio_net'])).rejects.toThrow(/virtio_net is neither in .* nor built into the kernel/);
  });

  it('names a missing dependency', async () => {
    await expect(selectModules(tree, ['broken'])).rejects.toThrow(/not_there \(needed by broken\)/);
  });
});
