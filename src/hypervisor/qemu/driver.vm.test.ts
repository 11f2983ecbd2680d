/**
 * Boots real VMs with the QEMU driver: cold boot to SSH, port forwards, pause/resume, save state and
 * restore into a second VM, ACPI power-off, kill, and a start that fails with QEMU's own reason.
 *
 * Boots the golden default kernel and image (test/install.fixture.ts), or the artifacts named by
 * BANGER_TEST_VMLINUX, BANGER_TEST_INITRD and BANGER_TEST_ROOTFS when all three are set.
 * The SSH key is generated per run. Traffic goes only to 127.0.0.1 and the guests have no egress.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BangerError } from '../../api/errors.js';
import { run } from '../../host/exec.js';
import { silentLogger } from '../../host/logger.js';
import type { VmHandles, VmSpec } from '../driver.js';
import { createOverlay } from './disk.js';
import { createQemuDriver } from './driver.js';
import { withQmp } from './qmp.js';
import { goldenState } from '../../../test/install.fixture.js';
import { artifactsFromState } from '../../../test/conformance.fixture.js';
import { freePort } from '../../host/freeport.js';

const fromEnv = process.env.BANGER_TEST_VMLINUX && process.env.BANGER_TEST_INITRD && process.env.BANGER_TEST_ROOTFS;
const golden = fromEnv ? null : artifactsFromState(join(await goldenState(), 'state', 'banger'));
const artifacts = {
  kernel: process.env.BANGER_TEST_VMLINUX ?? golden?.kernelPath,
  initrd: process.env.BANGER_TEST_INITRD ?? golden?.initrdPath,
  rootfs: process.env.BANGER_TEST_ROOTFS ?? golden?.rootfsPath,
};
const missing = Object.entries({ BANGER_TEST_VMLINUX: artifacts.kernel, BANGER_TEST_INITRD: artifacts.initrd, BANGER_TEST_ROOTFS: artifacts.rootfs })
  .filter(([, v]) => !v || !existsSync(v))
  .map(([k]) => k);
if (missing.length) console.warn(`[driver.vm.test] skipped: set ${missing.join(', ')} to the guest boot artifacts (vmlinux, initrd.img, rootfs.ext4)`);

const timings: Record<string, number> = {};


/** One SSH exec over a fresh ssh2 connection; rejects on any failure. */
function sshExec(port: number, privateKey: Buffer, command: string, timeoutMs = 5000): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    const timer = setTimeout(() => {
      c.end();
      reject(new Error('ssh timeout'));
    }, timeoutMs);
    c.on('ready', () => {
      c.exec(command, (err, ch) => {
        if (err) return reject(err);
        let stdout = '';
        ch.on('data', (d: Buffer) => (stdout += d.toString()));
        ch.stderr.on('data', () => {});
        ch.on('close', (code: number) => {
          clearTimeout(timer);
          c.end();
          resolve({ code, stdout });
        });
      });
    });
    c.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    c.connect({ host: '127.0.0.1', port, username: 'root', privateKey, readyTimeout: timeoutMs, hostVerifier: () => true });
  });
}

async function waitForSsh(port: number, privateKey: Buffer, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  let last: unknown;
  while (Date.now() - t0 < timeoutMs) {
    try {
      const r = await sshExec(port, privateKey, 'true', 4000);
      if (r.code === 0) return Date.now() - t0;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no SSH on 127.0.0.1:${port} after ${timeoutMs} ms: ${String(last)}`);
}

describe.skipIf(missing.length > 0)('QEMU driver with a real guest', () => {
  const driver = createQemuDriver({ log: silentLogger });
  let dir: string;
  let privateKey: Buffer;
  let pubBlob: string;
  const started: VmHandles[] = [];

  async function makeSpec(name: string, disk: string, sshHostPort: number, extra: Partial<VmSpec> = {}): Promise<VmSpec> {
    const vmDir = join(dir, name);
    await mkdir(vmDir, { recursive: true });
    return {
      id: `test-${name}`,
      name,
      vcpu: 1,
      memoryMib: 512,
      kernelPath: artifacts.kernel!,
      initrdPath: artifacts.initrd!,
      cmdline: `console=ttyS0 quiet tsc_early_khz=2300000 tsc=reliable root=/dev/vda banger.hostname=${name} banger.key=${pubBlob} banger.ip=10.0.2.15/24 banger.gw=10.0.2.2 banger.dns=10.0.2.3`,
      diskPath: disk,
      diskFormat: 'qcow2',
      serialLogPath: join(vmDir, 'serial.log'),
      logPath: join(vmDir, 'hypervisor.log'),
      runtimeDir: vmDir,
      accel: 'tcg',
      network: { mode: 'user', sshHostPort, egress: false, forwards: [] },
      ...extra,
    };
  }

  const status = (h: VmHandles) => withQmp(h.controlSocket, (q) => q.execute<{ status: string }>('query-status')).then((s) => s.status);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bqvm-'));
    await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'banger-test', '-f', join(dir, 'key')]);
    privateKey = await readFile(join(dir, 'key'));
    pubBlob = (await readFile(join(dir, 'key.pub'), 'utf8')).split(' ')[1];
    await createOverlay(artifacts.rootfs!, 'raw', join(dir, 'd1.qcow2'));
  });

  afterAll(async () => {
    for (const h of started) await driver.kill(h, 'SIGKILL').catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true });
    console.log(`[driver.vm.test] timings (ms): ${JSON.stringify(timings)}`);
  });

  let vm1: VmHandles;
  let vm1Port: number;

  it('reports its version and the accelerators this host allows', async () => {
    const info = await driver.info();
    expect(info.name).toBe('qemu');
    expect(info.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(info.features.accelerators).toContain('tcg');
    expect(info.features).toMatchObject({ snapshots: true, needsRoot: false, userNetworking: true, diskFormats: ['qcow2', 'raw'] });
  });

  it('boots to SSH on the forwarded port', async () => {
    vm1Port = await freePort();
    const spec = await makeSpec('vm1', join(dir, 'd1.qcow2'), vm1Port);
    const t0 = Date.now();
    vm1 = await driver.start(spec, silentLogger);
    started.push(vm1);
    timings.startReturned = Date.now() - t0;
    expect(driver.isRunning(vm1)).toBe(true);
    expect(vm1.controlSocket).toBe(join(spec.runtimeDir, 'qmp.sock'));
    expect(await status(vm1)).toBe('running');
    await waitForSsh(vm1Port, privateKey, 90_000);
    timings.coldBootToSsh = Date.now() - t0;
    const r = await sshExec(vm1Port, privateKey, 'hostname; cat /proc/cmdline');
    expect(r.stdout).toMatch(/^vm1\n/);
    // pid-reuse guard: same pid, different VM's socket → not ours
    expect(driver.isRunning({ ...vm1, controlSocket: join(dir, 'other', 'qmp.sock') })).toBe(false);
  });

  it('adds and removes a port forward at run time', async () => {
    const extra = await freePort();
    await driver.ports.addForward(vm1, extra, 22);
    expect((await sshExec(extra, privateKey, 'echo via-extra')).stdout).toBe('via-extra\n');
    await expect(driver.ports.addForward(vm1, vm1Port, 22)).rejects.toMatchObject({ code: 'conflict' });
    await driver.ports.removeForward(vm1, extra);
    await expect(sshExec(extra, privateKey, 'true', 2000)).rejects.toThrow();
    await expect(driver.ports.removeForward(vm1, extra)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('pauses and resumes', async () => {
    await driver.snapshots.pause(vm1);
    expect(await status(vm1)).toBe('paused');
    await driver.snapshots.resume(vm1);
    expect(await status(vm1)).toBe('running');
    expect((await sshExec(vm1Port, privateKey, 'echo back')).stdout).toBe('back\n');
  });

  let vm2: VmHandles;
  let vm2Port: number;

  it('saves the state, is killed, and a second VM restored from the file answers SSH with the same memory and disk', async () => {
    await sshExec(vm1Port, privateKey, 'echo from-vm1 > /root/marker && sync');
    const state = join(dir, 'vm1.state');
    let t0 = Date.now();
    await driver.snapshots.saveState(vm1, state);
    timings.saveState = Date.now() - t0;
    const size = (await stat(state)).size;
    timings.stateMiB = Math.round(size / 1024 / 1024);
    expect(size).toBeGreaterThan(10 * 1024 * 1024);
    expect(existsSync(`${state}.part`) || existsSync(`${state}.written`)).toBe(false);
    expect(await status(vm1)).toMatch(/^(paused|postmigrate)$/);

    t0 = Date.now();
    await driver.kill(vm1);
    timings.killSigterm = Date.now() - t0;
    expect(driver.isRunning(vm1)).toBe(false);
    expect(existsSync(vm1.controlSocket)).toBe(false);

    // The saved memory expects the disk as it was at save time: a fresh overlay on top of it.
    await createOverlay(join(dir, 'd1.qcow2'), 'qcow2', join(dir, 'd2.qcow2'));
    vm2Port = await freePort();
    const spec = await makeSpec('vm2', join(dir, 'd2.qcow2'), vm2Port, { restoreFrom: state });
    t0 = Date.now();
    vm2 = await driver.start(spec, silentLogger);
    started.push(vm2);
    timings.restoreStartReturned = Date.now() - t0;
    expect(await status(vm2)).toBe('running');
    await waitForSsh(vm2Port, privateKey, 60_000);
    timings.restoreToSsh = Date.now() - t0;
    // Same memory: the hostname set at vm1's boot and the file it wrote.
    expect((await sshExec(vm2Port, privateKey, 'hostname; cat /root/marker')).stdout).toBe('vm1\nfrom-vm1\n');
  });

  it('powers off on an ACPI request when the guest handles the power button', async () => {
    // logind acts on the power button only when udev has loaded button.ko and tagged the input device;
    // a minbase image without udev ignores it, and then requestPowerOff must say false, not hang.
    const probe = await sshExec(vm2Port, privateKey, 'grep -q "Power Button" /proc/bus/input/devices && systemctl is-active -q systemd-logind && echo yes || echo no');
    const handlesButton = probe.stdout.trim() === 'yes';
    const t0 = Date.now();
    const exited = await driver.requestPowerOff(vm2, handlesButton ? 20_000 : 3_000);
    timings.powerOff = Date.now() - t0;
    if (!handlesButton) {
      console.warn('[driver.vm.test] the guest image has no power-button handler (udev + logind, or acpid): power-off request ignored as expected');
      expect(exited).toBe(false);
      expect(driver.isRunning(vm2)).toBe(true);
      await driver.kill(vm2);
    } else {
      expect(exited).toBe(true);
      expect(timings.powerOff).toBeLessThan(15_000);
    }
    expect(driver.isRunning(vm2)).toBe(false);
    expect(existsSync(vm2.controlSocket)).toBe(false);
    // Idempotent on a stopped VM.
    expect(await driver.requestPowerOff(vm2, 1000)).toBe(true);
  });

  it('fails a start with QEMU’s reason and leaves nothing behind', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      await createOverlay(artifacts.rootfs!, 'raw', join(dir, 'd3.qcow2'));
      const spec = await makeSpec('vm3', join(dir, 'd3.qcow2'), port);
      const err = await driver.start(spec, silentLogger).catch((e) => e);
      expect(err).toBeInstanceOf(BangerError);
      expect(err.code).toBe('conflict');
      expect(err.message).toMatch(/port is already in use.*Could not set up host forwarding rule/s);
      expect(existsSync(join(spec.runtimeDir, 'qmp.sock'))).toBe(false);
      const restore = await driver.start({ ...spec, restoreFrom: join(dir, 'no-such-state') }, silentLogger).catch((e) => e);
      expect(restore).toMatchObject({ code: 'not_found' });
      // A state saved with 512 MiB does not load into 256 MiB: QEMU's own reason comes back.
      const mismatch = await driver
        .start({ ...spec, memoryMib: 256, network: { mode: 'user', sshHostPort: await freePort(), egress: false, forwards: [] }, restoreFrom: join(dir, 'vm1.state') }, silentLogger)
        .catch((e) => e);
      expect(mismatch).toBeInstanceOf(BangerError);
      expect(mismatch.message).toMatch(/exited during start.*(load of migration failed|Length mismatch)/s);
      expect(existsSync(join(spec.runtimeDir, 'qmp.sock'))).toBe(false);
    } finally {
      busy.close();
    }
  });

  it('left no QEMU process of this test running', async () => {
    const r = await run(['pgrep', '-f', dir], { check: false });
    expect(r.stdout.trim()).toBe('');
  });
});
