/**
 * The real firecracker binary, where one exists and KVM is usable (never on the development hosts of
 * this project: no Firecracker, and /dev/kvm there is kvm_pvm). Skipped with a printed reason otherwise.
 *
 * The boot scenario also needs a kernel, initramfs and root filesystem (BANGER_FC_VMLINUX,
 * BANGER_FC_INITRD, BANGER_FC_ROOTFS) and root, for the tap device in a private network namespace.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run, which } from '../../host/exec.js';
import { silentLogger } from '../../host/logger.js';
import { kvmUsability, probeHost } from '../accel.js';
import type { VmHandles, VmSpec } from '../driver.js';
import { prepareRawDisk } from './disk.js';
import { createFirecrackerDriver } from './driver.js';
import { checkFirecrackerVersion, parseFirecrackerVersion } from './version.js';

const bin = await which('firecracker');
const kvm = kvmUsability(await probeHost());
const hostSkip = !bin ? 'firecracker is not on PATH' : !kvm.usable ? `KVM is not usable: ${kvm.reason}` : null;
const artifacts = { vmlinux: process.env.BANGER_FC_VMLINUX, initrd: process.env.BANGER_FC_INITRD, rootfs: process.env.BANGER_FC_ROOTFS };
const bootSkip =
  hostSkip ??
  (Object.values(artifacts).some((p) => !p || !existsSync(p))
    ? 'set BANGER_FC_VMLINUX, BANGER_FC_INITRD and BANGER_FC_ROOTFS to a kernel, initramfs and raw root filesystem'
    : process.getuid?.() !== 0
      ? 'the boot test needs root for a tap device in a private network namespace'
      : null);
if (hostSkip) console.log(`[firecracker real-binary tests] skipped: ${hostSkip}`);
else if (bootSkip) console.log(`[firecracker real-binary boot test] skipped: ${bootSkip}`);

describe('the real firecracker binary', () => {
  (hostSkip ? it.skip : it)('reports a supported version', async () => {
    const out = await run([bin!, '--version']);
    const v = parseFirecrackerVersion(out.stdout);
    expect(v).not.toBeNull();
    expect(checkFirecrackerVersion(v!).level).not.toBe('error');
    const info = await createFirecrackerDriver({ bin: bin!, log: silentLogger }).info();
    expect(info.version).toBe(v!.text);
  });

  describe('boot, pause, snapshot, restore', () => {
    let dir: string | undefined;
    const netns = `bgfc${process.pid}`;
    const handles: VmHandles[] = [];
    const driver = createFirecrackerDriver({ bin: bin ?? 'firecracker', log: silentLogger });

    afterAll(async () => {
      for (const h of handles) await driver.kill(h, 'SIGKILL').catch(() => {});
      if (dir) {
        await run(['ip', 'netns', 'delete', netns], { check: false });
        rmSync(dir, { recursive: true, force: true });
      }
    });

    (bootSkip ? it.skip : it)(
      'boots the kernel, pauses, saves state, and restores it in a fresh process',
      async () => {
        const d = (dir = mkdtempSync(join(tmpdir(), 'fc-real-')));
        await run(['ip', 'netns', 'add', netns]);
        await run(['ip', '-n', netns, 'tuntap', 'add', 'dev', 'bgtap0', 'mode', 'tap']);
        await run(['ip', '-n', netns, 'link', 'set', 'bgtap0', 'up']);
        mkdirSync(join(d, 'run'));
        const disk = await prepareRawDisk(artifacts.rootfs!, join(d, 'disk.raw'), { log: silentLogger });
        const spec: VmSpec = {
          id: 'fc-real',
          name: 'fc-real',
          vcpu: 1,
          memoryMib: 512,
          kernelPath: artifacts.vmlinux!,
          initrdPath: artifacts.initrd!,
          cmdline: 'console=ttyS0 reboot=k panic=1 root=/dev/vda rw banger.hostname=fc-real',
          diskPath: disk.path,
          diskFormat: 'raw',
          serialLogPath: join(d, 'serial.log'),
          logPath: join(d, 'firecracker.log'),
          runtimeDir: join(d, 'run'),
          accel: 'kvm',
          network: { mode: 'bridge', tap: 'bgtap0', mac: '02:ba:00:00:00:42', netns },
        };
        const h = await driver.start(spec, silentLogger);
        handles.push(h);
        await expect.poll(() => readFileSync(spec.serialLogPath, 'utf8'), { timeout: 30_000 }).toMatch(/Linux version/);
        await driver.snapshots.pause(h);
        await driver.snapshots.resume(h);
        const state = join(d, 'state.snap');
        await driver.snapshots.saveState(h, state);
        await driver.kill(h);
        expect(driver.isRunning(h)).toBe(false);
        const restored = await driver.start({ ...spec, restoreFrom: state }, silentLogger);
        handles.push(restored);
        expect(driver.isRunning(restored)).toBe(true);
        await driver.kill(restored);
        await disk.release();
      },
      120_000,
    );
  });
});
