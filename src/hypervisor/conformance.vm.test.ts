/**
 * Driver conformance: the same lifecycle scenarios against every driver in the registry that can run
 * on this host — boot to SSH, exec, snapshot/restore (where `info().features.snapshots`), graceful
 * stop then start with a file persisting, kill. One VM per driver, driven through the Driver interface
 * with the golden kernel and image (test/install.fixture.ts). A driver that cannot run here is skipped
 * with its reason printed (see conformance-plan.ts).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aliasFor } from '../guest/knownhosts.js';
import { KnownHostsStore } from '../guest/knownhostsstore.js';
import { ensureKeyPair, type KeyPair } from '../guest/keys.js';
import type { GuestConnection } from '../guest/connection.js';
import { waitForSsh } from '../guest/wait.js';
import { run } from '../host/exec.js';
import { silentLogger } from '../host/logger.js';
import { goldenState } from '../../test/install.fixture.js';
import { buildBootArgs } from './bootargs.js';
import { kvmUsability, probeHost } from './accel.js';
import { planConformance, type ConformanceTarget, type DriverProbe } from './conformance-plan.js';
import { artifactsFromState, makeDisk, netnsTapNetwork, userNetwork, type GuestArtifacts, type GuestNetwork, type VmDisk } from '../../test/conformance.fixture.js';
import type { Driver, VmHandles, VmSpec } from './driver.js';
import { defaultRegistry, type DriverName } from './registry.js';

const registry = defaultRegistry();
const probes: DriverProbe[] = await Promise.all(
  registry.names().map(async (name): Promise<DriverProbe> => {
    const entry = registry.get(name)!;
    const binary = await entry.locate();
    if (!binary) return { name, binary };
    try {
      return { name, binary, info: await entry.create(silentLogger).info() };
    } catch (err) {
      return { name, binary, infoError: (err as Error).message };
    }
  }),
);
const targets = planConformance(probes, { kvm: kvmUsability(await probeHost()), isRoot: process.getuid?.() === 0 });
for (const t of targets) {
  console.log(t.run ? `[conformance] ${t.name} ${t.info.version}: runs (accel ${t.accel}, ${t.network} network, ${t.disk} disk)` : `[conformance] ${t.name}: skipped — ${t.reason}`);
}

const BOOT_TIMEOUT_MS = 180_000;
const timings: Record<string, Record<string, number>> = {};

for (const target of targets) {
  if (!target.run) {
    describe.skip(`driver ${target.name} (skipped: ${target.reason})`, () => {
      it('lifecycle scenarios', () => {});
    });
    continue;
  }
  describe(`driver ${target.name}`, () => conformance(target, registry.get(target.name as DriverName)!.create(silentLogger)));
}

function conformance(target: Extract<ConformanceTarget, { run: true }>, driver: Driver): void {
  const name = `conf-${target.name}`.slice(0, 63);
  const t = (timings[target.name] = {});
  let dir: string;
  let artifacts: GuestArtifacts;
  let key: KeyPair;
  let knownHosts: KnownHostsStore;
  let net: GuestNetwork;
  let disk: VmDisk;
  let spec: VmSpec;
  let handles: VmHandles | undefined;
  const everStarted: VmHandles[] = [];

  beforeAll(async () => {
    const t0 = Date.now();
    artifacts = artifactsFromState(join(await goldenState(), 'state', 'banger'));
    // Short path: the control socket lives in runtimeDir (108-byte limit).
    dir = await mkdtemp(join(tmpdir(), 'bconf-'));
    key = await ensureKeyPair({ sshKey: join(dir, 'id_ed25519') });
    knownHosts = new KnownHostsStore(join(dir, 'known_hosts'));
    net = target.network === 'user' ? await userNetwork() : await netnsTapNetwork(target.name.slice(0, 4));
    disk = await makeDisk(target.disk, artifacts.rootfsPath, dir, silentLogger);
    spec = {
      id: name,
      name,
      vcpu: 1,
      memoryMib: 512,
      kernelPath: artifacts.kernelPath,
      initrdPath: artifacts.initrdPath,
      cmdline: buildBootArgs({ hostname: name, sshKeyBlob: key.publicKeyBlob, net: net.boot, accel: target.accel }),
      diskPath: disk.path,
      diskFormat: disk.format,
      serialLogPath: join(dir, 'serial.log'),
      logPath: join(dir, 'hypervisor.log'),
      runtimeDir: dir,
      accel: target.accel,
      network: net.network,
    };
    t.setup = Date.now() - t0;
  });

  afterAll(async () => {
    const t0 = Date.now();
    for (const h of everStarted) if (driver.isRunning(h)) await driver.kill(h, 'SIGKILL').catch(() => {});
    await disk?.release().catch(() => {});
    await net?.close();
    if (dir) {
      const left = await run(['pgrep', '-f', dir], { check: false });
      if (left.stdout.trim()) console.warn(`[conformance] ${target.name}: processes still mention ${dir}: ${left.stdout.trim()}`);
      await rm(dir, { recursive: true, force: true });
    }
    t.teardown = Date.now() - t0;
    console.log(`[conformance] ${target.name} timings (ms): ${JSON.stringify(t)}`);
  });

  async function boot(extra: Partial<VmSpec> = {}): Promise<VmHandles> {
    const h = await driver.start({ ...spec, ...extra }, silentLogger);
    everStarted.push(h);
    return h;
  }

  async function ssh(timeoutMs = BOOT_TIMEOUT_MS): Promise<GuestConnection> {
    return waitForSsh({ ...net.ssh, alias: aliasFor(name), privateKey: key.privateKey, knownHosts, timeoutMs, attemptTimeoutMs: 15_000 });
  }

  const tail = async () => (existsSync(spec.serialLogPath) ? (await run(['tail', '-n', '30', spec.serialLogPath], { check: false })).stdout : '(no serial log)');

  async function withGuest<T>(fn: (c: GuestConnection) => Promise<T>): Promise<T> {
    const c = await ssh(30_000);
    try {
      return await fn(c);
    } finally {
      c.close();
    }
  }

  it('reports its name, version and features', async () => {
    const info = await driver.info();
    expect(info.name).toBe(target.name);
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.features.accelerators).toContain(target.accel);
    expect(info.features.diskFormats).toContain(target.disk);
  });

  it('boots to SSH with the host name and key from the boot arguments', async () => {
    const t0 = Date.now();
    handles = await boot();
    t.startReturned = Date.now() - t0;
    expect(driver.isRunning(handles)).toBe(true);
    expect(handles.accel).toBe(target.accel);
    const c = await ssh().catch(async (err) => {
      throw new Error(`${(err as Error).message}\nserial tail:\n${await tail()}`);
    });
    t.coldBootToSsh = Date.now() - t0;
    try {
      expect((await c.run(['hostname'])).stdout.trim()).toBe(name);
      expect((await knownHosts.lookup(aliasFor(name))).length).toBe(1);
    } finally {
      c.close();
    }
  }, BOOT_TIMEOUT_MS + 30_000);

  it('execs: output, stderr, exit code and stdin pass through', async () => {
    await withGuest(async (c) => {
      const t0 = Date.now();
      const r = await c.run(['sh', '-c', 'echo out; echo err >&2; exit 7']);
      t.execRoundTrip = Date.now() - t0;
      expect(r).toMatchObject({ code: 7, stdout: 'out\n', stderr: 'err\n' });
      const sum = await c.run(['sha256sum'], { stdin: 'banger\n' });
      const local = await run(['sha256sum'], { input: 'banger\n' });
      expect(sum.stdout.split(' ')[0]).toBe(local.stdout.split(' ')[0]);
    });
  });

  if (!target.info.features.snapshots) console.log(`[conformance] ${target.name}: snapshot/restore skipped — the driver reports features.snapshots = false`);
  (target.info.features.snapshots ? it : it.skip)('saves its state, is killed, and restores with memory and disk intact', async () => {
    const h = handles!;
    await withGuest((c) => c.run(['sh', '-c', 'echo in-memory > /dev/shm/marker && echo on-disk > /root/snap-marker && sync'], { check: true }));
    const state = join(dir, 'vm.state');
    let t0 = Date.now();
    await driver.snapshots!.saveState(h, state);
    t.saveState = Date.now() - t0;
    expect((await stat(state)).size).toBeGreaterThan(1024 * 1024);
    await driver.kill(h);
    expect(driver.isRunning(h)).toBe(false);
    // The saved memory expects the disk as it was at save time; the VM is dead, so the same disk is that.
    t0 = Date.now();
    handles = await boot({ restoreFrom: state });
    t.restoreStartReturned = Date.now() - t0;
    expect(driver.isRunning(handles)).toBe(true);
    await withGuest(async (c) => {
      t.restoreToSsh = Date.now() - t0;
      // /dev/shm is tmpfs: only a memory restore brings it back.
      expect((await c.run(['cat', '/dev/shm/marker', '/root/snap-marker'])).stdout).toBe('in-memory\non-disk\n');
    });
  }, BOOT_TIMEOUT_MS);

  it('stops gracefully, and a file written before the stop is there after a fresh start', async () => {
    const h = handles!;
    await withGuest(async (c) => {
      await c.run(['sh', '-c', 'echo persisted > /root/marker'], { check: true });
      // The product's stop sequence (vms/machine.ts halt): sync and power off in the guest; the command may be cut off.
      await c.run(['sh', '-c', 'sync; (sleep 0.2; systemctl poweroff || poweroff -f) >/dev/null 2>&1 &'], { timeoutMs: 5000 }).catch(() => undefined);
    });
    const t0 = Date.now();
    let stoppedBy: 'guest' | 'power-off request' | 'nothing' = 'nothing';
    if (await waitUntil(() => !driver.isRunning(h), 60_000)) stoppedBy = 'guest';
    else if (await driver.requestPowerOff(h, 30_000)) stoppedBy = 'power-off request';
    t.stop = Date.now() - t0;
    if (stoppedBy === 'nothing') await driver.kill(h, 'SIGKILL');
    expect(stoppedBy, `${target.name} kept running after the guest powered off and a power-off request`).not.toBe('nothing');
    // Idempotent on a VM that is already down.
    expect(await driver.requestPowerOff(h, 1000)).toBe(true);

    const t1 = Date.now();
    handles = await boot();
    await withGuest(async (c) => {
      t.restartToSsh = Date.now() - t1;
      expect((await c.run(['cat', '/root/marker'])).stdout).toBe('persisted\n');
    }).catch(async (err) => {
      throw new Error(`${(err as Error).message}\nserial tail:\n${await tail()}`);
    });
  }, BOOT_TIMEOUT_MS + 120_000);

  it('is killed: the process is gone and its control socket removed', async () => {
    const h = handles!;
    const t0 = Date.now();
    await driver.kill(h, 'SIGKILL');
    t.kill = Date.now() - t0;
    expect(driver.isRunning(h)).toBe(false);
    expect(existsSync(h.controlSocket)).toBe(false);
    const left = await run(['pgrep', '-f', dir], { check: false });
    expect(left.stdout.trim()).toBe('');
    // Killing a dead VM is a no-op.
    await driver.kill(h, 'SIGKILL');
  });
}

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return cond();
}
