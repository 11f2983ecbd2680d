// TEMPORARY manual check of the netns-tap rig with QEMU (deleted after running).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { aliasFor, KnownHostsStore } from '../guest/knownhosts.js';
import { ensureKeyPair } from '../guest/keys.js';
import { waitForSsh } from '../guest/wait.js';
import { silentLogger } from '../host/logger.js';
import { goldenState } from '../testing/fixture.js';
import { buildBootArgs } from '../vms/bootargs.js';
import { artifactsFromState, makeDisk, netnsTapNetwork } from './conformance-rig.js';
import { createQemuDriver } from './qemu/driver.js';

it('boots qemu on a tap in a namespace and answers ssh via the forwarder', async () => {
  const art = artifactsFromState(join(await goldenState(), 'state', 'banger'));
  const dir = await mkdtemp(join(tmpdir(), 'btap-'));
  const key = await ensureKeyPair({ sshKey: join(dir, 'k') });
  const net = await netnsTapNetwork('chk');
  const disk = await makeDisk('raw', art.rootfsPath, dir, silentLogger);
  const driver = createQemuDriver({ log: silentLogger });
  const h = await driver.start({ id: 'tapchk', name: 'tapchk', vcpu: 1, memoryMib: 512, kernelPath: art.kernelPath, initrdPath: art.initrdPath,
    cmdline: buildBootArgs({ hostname: 'tapchk', sshKeyBlob: key.publicKeyBlob, net: net.boot, accel: 'tcg' }), diskPath: disk.path, diskFormat: 'raw',
    serialLogPath: join(dir, 's.log'), logPath: join(dir, 'h.log'), runtimeDir: dir, accel: 'tcg', network: net.network }, silentLogger);
  try {
    const t0 = Date.now();
    const c = await waitForSsh({ ...net.ssh, alias: aliasFor('tapchk'), privateKey: key.privateKey, knownHosts: new KnownHostsStore(join(dir, 'kh')), timeoutMs: 120_000 });
    console.log('ssh via netns forwarder after', Date.now() - t0, 'ms; disk strategy path', disk.path);
    expect((await c.run(['hostname'])).stdout.trim()).toBe('tapchk');
    expect((await c.run(['ip', '-4', 'addr', 'show', 'eth0'])).stdout).toContain('172.30.99.2/24');
    c.close();
  } finally {
    await driver.kill(h, 'SIGKILL');
    await disk.release();
    await net.close();
    await rm(dir, { recursive: true, force: true });
  }
}, 200_000);
