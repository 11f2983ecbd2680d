/**
 * Contract tests: every request the Firecracker driver sends is checked against the published API spec
 * (spec/firecracker-api-v1.14.1.yaml) by a spec-driven validator. The driver code runs for real; the only
 * double is the Firecracker process itself (fake-firecracker.mjs, spawned by the driver through a wrapper
 * named like the binary), which records each request it receives on its unix socket.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BangerError } from '../../api/errors.js';
import { pidAlive } from '../../host/exec.js';
import { silentLogger } from '../../host/logger.js';
import { quote } from '../../guest/quote.js';
import type { VmHandles, VmSpec } from '../driver.js';
import { createFirecrackerDriver, type FirecrackerHandles } from './driver.js';
import {
  buildBootRequests,
  buildPauseRequests,
  buildRestoreRequests,
  buildResumeRequests,
  buildSaveStateRequests,
  buildStopRequests,
  type ApiRequest,
} from './requests.js';
import { loadSpecValidator } from './spec-validator.js';

const validator = loadSpecValidator();

/** Validates and returns the errors keyed by request, so a failure names the request. */
function specErrors(reqs: readonly ApiRequest[]): string[] {
  return reqs.flatMap((r) => validator.validate(r).errors.map((e) => `${r.method} ${r.path}: ${e}`));
}

const seq = (reqs: readonly ApiRequest[]) => reqs.map((r) => `${r.method} ${r.path}`);

function deadOrZombie(pid: number): boolean {
  if (!pidAlive(pid)) return true;
  try {
    return /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

describe('the spec-driven validator', () => {
  it('loads the 1.14.1 spec with its operations', () => {
    expect(validator.version).toBe('1.14.1');
    expect(validator.operations()).toEqual(
      expect.arrayContaining(['PUT /drives/{drive_id}', 'PUT /network-interfaces/{iface_id}', 'PATCH /vm', 'PUT /snapshot/create', 'PUT /snapshot/load', 'PUT /actions']),
    );
  });

  it('accepts a well-formed request and matches path templates', () => {
    const r = validator.validate({ method: 'PUT', path: '/drives/rootfs', body: { drive_id: 'rootfs', path_on_host: '/d.raw', is_root_device: true, is_read_only: false } });
    expect(r).toEqual({ ok: true, template: '/drives/{drive_id}', errors: [] });
  });

  it.each<[string, ApiRequest, RegExp]>([
    ['an unknown property (objects are closed)', { method: 'PUT', path: '/vsock', body: { guest_cid: 3, uds_path: '/v.sock', vsock_idx: 'x' } }, /unknown property "vsock_idx"/],
    ['a missing required property', { method: 'PUT', path: '/drives/rootfs', body: { drive_id: 'rootfs', path_on_host: '/d.raw' } }, /must have required property 'is_root_device'/],
    ['a nested unknown property', { method: 'PUT', path: '/snapshot/load', body: { snapshot_path: '/s', mem_backend: { backend_type: 'File', backend_path: '/m', extra: 1 } } }, /\/mem_backend has unknown property "extra"/],
    ['a value outside an enum', { method: 'PUT', path: '/actions', body: { action_type: 'Reboot' } }, /must be equal to one of the allowed values/],
    ['a wrong type', { method: 'PUT', path: '/machine-config', body: { vcpu_count: '2', mem_size_mib: 512 } }, /\/vcpu_count must be integer/],
    ['a value past the maximum', { method: 'PUT', path: '/machine-config', body: { vcpu_count: 33, mem_size_mib: 512 } }, /\/vcpu_count must be <= 32/],
    ['a method the path does not define', { method: 'PATCH', path: '/boot-source', body: { kernel_image_path: '/k' } }, /method PATCH is not defined for \/boot-source \(defined: PUT\)/],
    ['GET on a PUT-only path', { method: 'GET', path: '/actions' }, /method GET is not defined for \/actions/],
    ['an unknown path', { method: 'PUT', path: '/drive/rootfs', body: {} }, /unknown path \/drive\/rootfs/],
    ['a path with an extra segment', { method: 'PUT', path: '/drives/a/b', body: {} }, /unknown path/],
    ['a missing required body', { method: 'PUT', path: '/actions' }, /requires a body/],
    ['a body where none is taken', { method: 'GET', path: '/', body: {} }, /takes no body/],
    ['a path id differing from the body id', { method: 'PUT', path: '/network-interfaces/eth0', body: { iface_id: 'eth1', host_dev_name: 'tap0' } }, /path iface_id "eth0" differs from body iface_id "eth1"/],
    ['both memory sources in snapshot/load', { method: 'PUT', path: '/snapshot/load', body: { snapshot_path: '/s', mem_file_path: '/m', mem_backend: { backend_type: 'File', backend_path: '/m' } } }, /exactly one of mem_backend \/ mem_file_path/],
    ['no memory source in snapshot/load', { method: 'PUT', path: '/snapshot/load', body: { snapshot_path: '/s' } }, /exactly one of mem_backend \/ mem_file_path must be present \(found 0\)/],
  ])('rejects %s', (_name, req, message) => {
    const r = validator.validate(req);
    expect(r.ok).toBe(false);
    expect(r.errors.join('\n')).toMatch(message);
  });
});

function makeSpec(dir: string, over: Partial<VmSpec> = {}): VmSpec {
  return {
    id: 'vm-contract',
    name: 'contract',
    vcpu: 2,
    memoryMib: 512,
    kernelPath: join(dir, 'state', 'vmlinux'),
    initrdPath: join(dir, 'state', 'initrd.img'),
    cmdline: 'console=ttyS0 quiet root=/dev/vda rw banger.hostname=contract',
    diskPath: join(dir, 'state', 'disk.raw'),
    diskFormat: 'raw',
    serialLogPath: join(dir, 'state', 'serial.log'),
    logPath: join(dir, 'state', 'hypervisor.log'),
    runtimeDir: join(dir, 'run'),
    accel: 'kvm',
    network: { mode: 'bridge', tap: 'bgtap0', mac: '02:BA:00:00:00:01' },
    ...over,
  };
}

describe('request builders produce spec-valid sequences', () => {
  const spec = makeSpec('/x');
  it.each<[string, ApiRequest[], string[]]>([
    ['boot', buildBootRequests(spec, { vsockPath: '/x/run/vsock.sock' }), ['PUT /logger', 'PUT /machine-config', 'PUT /boot-source', 'PUT /drives/rootfs', 'PUT /network-interfaces/eth0', 'PUT /vsock', 'PUT /actions']],
    ['stop', buildStopRequests(), ['PUT /actions']],
    ['pause', buildPauseRequests(), ['PATCH /vm']],
    ['resume', buildResumeRequests(), ['PATCH /vm']],
    ['save state', buildSaveStateRequests('/x/state.snap'), ['PATCH /vm', 'PUT /snapshot/create']],
    ['restore with overrides', buildRestoreRequests({ ...spec, restoreFrom: '/x/state.snap' }, { networkOverrides: true }), ['PUT /logger', 'PUT /snapshot/load']],
    ['restore without overrides', buildRestoreRequests({ ...spec, restoreFrom: '/x/state.snap' }, { networkOverrides: false }), ['PUT /logger', 'PUT /snapshot/load']],
  ])('%s', (_name, reqs, expected) => {
    expect(seq(reqs)).toEqual(expected);
    expect(specErrors(reqs)).toEqual([]);
  });

  it('boot requests carry the VM values', () => {
    const bodies = Object.fromEntries(buildBootRequests(spec, { vsockPath: '/x/run/vsock.sock' }).map((r) => [r.path, r.body]));
    expect(bodies['/boot-source']).toEqual({ kernel_image_path: '/x/state/vmlinux', initrd_path: '/x/state/initrd.img', boot_args: spec.cmdline });
    expect(bodies['/drives/rootfs']).toEqual({ drive_id: 'rootfs', path_on_host: '/x/state/disk.raw', is_root_device: true, is_read_only: false });
    expect(bodies['/network-interfaces/eth0']).toEqual({ iface_id: 'eth0', host_dev_name: 'bgtap0', guest_mac: '02:ba:00:00:00:01' });
    expect(bodies['/machine-config']).toEqual({ vcpu_count: 2, mem_size_mib: 512 });
    expect(bodies['/vsock']).toEqual({ guest_cid: 3, uds_path: '/x/run/vsock.sock' });
    expect(bodies['/actions']).toEqual({ action_type: 'InstanceStart' });
  });

  it.each<[string, Partial<VmSpec>, RegExp]>([
    ['user-mode networking', { network: { mode: 'user', sshHostPort: 2222, egress: false, forwards: [] } }, /use `--network bridge`/],
    ['a qcow2 disk', { diskFormat: 'qcow2' }, /raw disks only/],
    ['33 vCPUs', { vcpu: 33 }, /1 to 32 vCPUs/],
    ['a bad MAC', { network: { mode: 'bridge', tap: 'bgtap0', mac: '02:00:00:00:01' } }, /guest MAC/],
    ['an overlong tap name', { network: { mode: 'bridge', tap: 'tap-name-too-long-x', mac: '02:00:00:00:00:01' } }, /not a valid interface name/],
  ])('refuses %s with bad_request', (_name, over, message) => {
    const err = (() => {
      try {
        buildBootRequests(makeSpec('/x', over), { vsockPath: '/v' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(BangerError);
    expect((err as BangerError).code).toBe('bad_request');
    expect((err as BangerError).message).toMatch(message);
  });
});

interface Record {
  event: 'start' | 'request';
  pid?: number;
  argv?: string[];
  umask?: number;
  method?: string;
  path?: string;
  body?: ApiRequest['body'];
}

describe('the driver against a fake Firecracker on a unix socket', () => {
  const fake = fileURLToPath(new URL('./fake-firecracker.mjs', import.meta.url));
  const fakeJailer = fileURLToPath(new URL('./fake-jailer.mjs', import.meta.url));
  let dir: string;
  let bin: string;
  let spec: VmSpec;
  const started: number[] = [];
  /** Every request any test saw, validated once more at the end. */
  const allRequests: ApiRequest[] = [];

  /** A wrapper named like the binary, so argv and the jailer's name check look real. */
  function wrapper(name: string, script: string, body?: string): string {
    const path = join(dir, 'bin', name);
    writeFileSync(path, body ?? `#!/bin/sh\nexec ${quote(process.execPath)} ${quote(script)} "$@"\n`);
    chmodSync(path, 0o755);
    return path;
  }

  function records(apiSocket: string): Record[] {
    const file = `${apiSocket}.requests.jsonl`;
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record);
  }

  /** Requests recorded since `from`; each must satisfy the spec. */
  function requestsSince(apiSocket: string, from: number): ApiRequest[] {
    const reqs = records(apiSocket)
      .slice(from)
      .filter((r) => r.event === 'request')
      .map((r) => ({ method: r.method as ApiRequest['method'], path: r.path!, ...(r.body === undefined ? {} : { body: r.body }) }));
    allRequests.push(...reqs);
    expect(specErrors(reqs)).toEqual([]);
    return reqs;
  }

  const withoutProbes = (reqs: ApiRequest[]) => reqs.filter((r) => !(r.method === 'GET' && r.path === '/'));

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fc-contract-'));
    for (const d of ['bin', 'state', 'run']) mkdirSync(join(dir, d));
    spec = makeSpec(dir);
    for (const f of [spec.kernelPath, spec.initrdPath, spec.diskPath]) writeFileSync(f, 'x');
    bin = wrapper('firecracker', fake);
  });

  afterAll(() => {
    for (const pid of started) {
      if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  function track(h: VmHandles) {
    started.push(h.pid);
    return h as FirecrackerHandles;
  }

  it('info() probes the binary for its version and reports the features', async () => {
    const info = await createFirecrackerDriver({ bin, log: silentLogger }).info();
    expect(info).toEqual({
      name: 'firecracker',
      version: '1.14.1',
      features: { snapshots: true, needsRoot: true, accelerators: ['kvm'], userNetworking: false, diskFormats: ['raw'] },
    });
  });

  it('info() on a missing binary says how to install it', async () => {
    const err = await createFirecrackerDriver({ bin: join(dir, 'bin', 'no-firecracker'), log: silentLogger }).info().catch((e) => e);
    expect(err.code).toBe('unavailable');
    expect(err.message).toMatch(/install Firecracker 1\.5 or newer/);
  });

  describe('one VM through create/start, pause, resume, snapshot, stop, restore, kill', () => {
    const driver = () => createFirecrackerDriver({ bin, log: silentLogger, killGraceMs: 2000 });
    let handles: FirecrackerHandles;
    const api = () => join(dir, 'run', 'api.sock');
    const statePath = () => join(dir, 'state', 'saved.snap');

    it('start spawns firecracker under umask 077 and sends the boot sequence', async () => {
      handles = track(await driver().start(spec, silentLogger));
      const recs = records(api());
      const startRec = recs.find((r) => r.event === 'start')!;
      expect(startRec.pid).toBe(handles.pid);
      expect(startRec.argv).toEqual(['--api-sock', api(), '--id', 'vm-contract']);
      expect(startRec.umask).toBe(0o077);
      expect(seq(withoutProbes(requestsSince(api(), 0)))).toEqual([
        'PUT /logger',
        'PUT /machine-config',
        'PUT /boot-source',
        'PUT /drives/rootfs',
        'PUT /network-interfaces/eth0',
        'PUT /vsock',
        'PUT /actions',
      ]);
      expect(handles).toMatchObject({ driver: 'firecracker', controlSocket: api(), vsockSocket: join(dir, 'run', 'vsock.sock'), accel: 'kvm', firecrackerVersion: '1.14.1' });
      expect(statSync(api()).mode & 0o077).toBe(0);
      expect(statSync(handles.vsockSocket).isSocket()).toBe(true);
      expect(statSync(handles.vsockSocket).mode & 0o077).toBe(0);
      expect(statSync(spec.logPath).isFile()).toBe(true);
      expect(driver().isRunning(handles)).toBe(true);
      await expect.poll(() => readFileSync(spec.serialLogPath, 'utf8')).toMatch(/Linux version/);
    });

    it('pause and resume PATCH /vm', async () => {
      const from = records(api()).length;
      await driver().snapshots!.pause(handles);
      await driver().snapshots!.resume(handles);
      expect(requestsSince(api(), from).map((r) => [r.method, r.path, r.body])).toEqual([
        ['PATCH', '/vm', { state: 'Paused' }],
        ['PATCH', '/vm', { state: 'Resumed' }],
      ]);
    });

    it('saveState pauses, creates a full snapshot, and leaves the VM paused', async () => {
      const from = records(api()).length;
      await driver().snapshots!.saveState(handles, statePath());
      expect(requestsSince(api(), from).map((r) => [r.method, r.path, r.body])).toEqual([
        ['PATCH', '/vm', { state: 'Paused' }],
        ['PUT', '/snapshot/create', { snapshot_type: 'Full', snapshot_path: statePath(), mem_file_path: `${statePath()}.mem` }],
      ]);
      expect(existsSync(statePath()) && existsSync(`${statePath()}.mem`)).toBe(true);
    });

    it('requestPowerOff sends Ctrl-Alt-Del and sees the process exit', async () => {
      const from = records(api()).length;
      expect(await driver().requestPowerOff(handles, 5000)).toBe(true);
      expect(seq(withoutProbes(requestsSince(api(), from)))).toEqual(['PUT /actions']);
      expect(records(api()).at(-1)?.body).toEqual({ action_type: 'SendCtrlAltDel' });
      expect(driver().isRunning(handles)).toBe(false);
      expect(existsSync(api())).toBe(false);
    });

    it('restore loads the snapshot into a fresh process with network overrides and resumes it', async () => {
      const from = records(api()).length;
      const restored = { ...spec, restoreFrom: statePath(), network: { mode: 'bridge' as const, tap: 'bgtap9', mac: '02:ba:00:00:00:01' } };
      handles = track(await driver().start(restored, silentLogger));
      const reqs = withoutProbes(requestsSince(api(), from));
      expect(reqs.map((r) => [r.method, r.path, r.body])).toEqual([
        ['PUT', '/logger', { log_path: spec.logPath, level: 'Info', show_level: true, show_log_origin: false }],
        [
          'PUT',
          '/snapshot/load',
          {
            snapshot_path: statePath(),
            mem_backend: { backend_type: 'File', backend_path: `${statePath()}.mem` },
            resume_vm: true,
            network_overrides: [{ iface_id: 'eth0', host_dev_name: 'bgtap9' }],
          },
        ],
      ]);
      // The fake re-binds the vsock path recorded in the snapshot, as Firecracker does.
      expect(statSync(handles.vsockSocket).isSocket()).toBe(true);
      expect(driver().isRunning(handles)).toBe(true);
    });

    it('kill stops the process and removes its sockets', async () => {
      await driver().kill(handles);
      expect(pidAlive(handles.pid)).toBe(false);
      expect(driver().isRunning(handles)).toBe(false);
      expect(existsSync(handles.controlSocket)).toBe(false);
      expect(existsSync(handles.vsockSocket)).toBe(false);
    });

    it('restore on Firecracker older than 1.13 leaves network_overrides out', async () => {
      const old = wrapper('firecracker-1.12', fake, `#!/bin/sh\nFAKE_FC_VERSION=1.12.1 exec ${quote(process.execPath)} ${quote(fake)} "$@"\n`);
      const d = createFirecrackerDriver({ bin: old, log: silentLogger, killGraceMs: 2000 });
      const from = records(api()).length;
      const h = track(await d.start({ ...spec, restoreFrom: statePath() }, silentLogger));
      const load = requestsSince(api(), from).find((r) => r.path === '/snapshot/load')!;
      expect(load.body).toEqual({ snapshot_path: statePath(), mem_backend: { backend_type: 'File', backend_path: `${statePath()}.mem` }, resume_vm: true });
      expect(h.firecrackerVersion).toBe('1.12.1');
      await d.kill(h);
    });
  });

  it('a refused request fails start with the fault message and leaves no process behind', async () => {
    const failing = wrapper('firecracker-failing', fake, `#!/bin/sh\nFAKE_FC_FAIL=/network-interfaces/eth0 exec ${quote(process.execPath)} ${quote(fake)} "$@"\n`);
    const s = makeSpec(dir, { id: 'vm-refused', runtimeDir: join(dir, 'run-refused') });
    mkdirSync(s.runtimeDir);
    const err = await createFirecrackerDriver({ bin: failing, log: silentLogger, killGraceMs: 2000 }).start(s, silentLogger).catch((e) => e);
    expect(err).toBeInstanceOf(BangerError);
    expect(err.code).toBe('bad_request');
    expect(err.message).toMatch(/refused PUT \/network-interfaces\/eth0 \(HTTP 400\): fake refusal .*Open tap device failed/);
    const apiSock = join(s.runtimeDir, 'api.sock');
    const pid = records(apiSock).find((r) => r.event === 'start')!.pid!;
    started.push(pid);
    await expect.poll(() => pidAlive(pid)).toBe(false);
    // Nothing after the refused request was sent.
    expect(seq(withoutProbes(requestsSince(apiSock, 0))).at(-1)).toBe('PUT /network-interfaces/eth0');
  });

  it('a binary that dies at start fails with its output, not a timeout', async () => {
    const dying = wrapper('firecracker-dying', '', `#!/bin/sh\ncase "$1" in --version) echo 'Firecracker v1.14.1'; exit 0;; esac\necho 'Error: KVM is not available' >&2\nexit 1\n`);
    const s = makeSpec(dir, { id: 'vm-dying', runtimeDir: join(dir, 'run-dying') });
    mkdirSync(s.runtimeDir);
    const t0 = Date.now();
    const err = await createFirecrackerDriver({ bin: dying, log: silentLogger }).start(s, silentLogger).catch((e) => e);
    expect(err.message).toMatch(/exited \(code 1\) before its API answered: .*KVM is not available/s);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('refuses accel=tcg and user networking before spawning anything', async () => {
    const d = createFirecrackerDriver({ bin, log: silentLogger });
    await expect(d.start(makeSpec(dir, { accel: 'tcg' }), silentLogger)).rejects.toThrow(/needs KVM/);
    await expect(d.start(makeSpec(dir, { network: { mode: 'user', sshHostPort: 1, egress: false, forwards: [] } }), silentLogger)).rejects.toThrow(/--network bridge/);
  });

  it('under the jailer: files are linked into the jail and requests name jail paths', async () => {
    const jailer = wrapper('jailer', fakeJailer);
    const base = join(dir, 'jail');
    const s = makeSpec(dir, { id: 'vm-jailed', runtimeDir: join(dir, 'run-jailed') });
    const d = createFirecrackerDriver({ bin, jailer: { enabled: true, bin: jailer, chrootBaseDir: base }, log: silentLogger, killGraceMs: 2000 });
    const h = track(await d.start(s, silentLogger));
    const root = join(base, 'firecracker', 'vm-jailed', 'root');
    expect(h.jailRoot).toBe(root);
    expect(h.controlSocket).toBe(join(root, 'run', 'firecracker.socket'));
    const startRec = records(h.controlSocket).find((r) => r.event === 'start')!;
    expect(startRec.argv).toEqual(['--id=vm-jailed', '--api-sock', '/run/firecracker.socket']);
    expect(startRec.umask).toBe(0o077);
    expect(h.pid).toBe(startRec.pid); // from the jailer's pid file, not the jailer's own pid
    const bodies = Object.fromEntries(withoutProbes(requestsSince(h.controlSocket, 0)).map((r) => [r.path, r.body]));
    expect(bodies['/boot-source']).toMatchObject({ kernel_image_path: '/vmlinux', initrd_path: '/initrd.img' });
    expect(bodies['/drives/rootfs']).toMatchObject({ path_on_host: '/rootfs.raw' });
    expect(bodies['/logger']).toMatchObject({ log_path: '/firecracker.log' });
    expect(bodies['/vsock']).toMatchObject({ uds_path: '/vsock.sock' });
    // Hard links: the disk in the jail is the VM's disk.
    expect(statSync(join(root, 'rootfs.raw')).ino).toBe(statSync(s.diskPath).ino);
    expect(statSync(join(root, 'firecracker.log')).ino).toBe(statSync(s.logPath).ino);

    const state = join(dir, 'state', 'jailed.snap');
    const from = records(h.controlSocket).length;
    await d.snapshots!.saveState(h, state);
    const create = requestsSince(h.controlSocket, from).find((r) => r.path === '/snapshot/create')!;
    expect(create.body).toEqual({ snapshot_type: 'Full', snapshot_path: '/snapshot', mem_file_path: '/snapshot.mem' });
    expect(existsSync(state) && existsSync(`${state}.mem`)).toBe(true);
    expect(existsSync(join(root, 'snapshot'))).toBe(false);

    await d.kill(h);
    expect(d.isRunning(h)).toBe(false);
    // Orphaned by the jailer, it is reaped by pid 1 whenever that gets to it: dead or a zombie both count.
    expect(deadOrZombie(h.pid)).toBe(true);
    expect(existsSync(join(base, 'firecracker', 'vm-jailed'))).toBe(false);
    expect(existsSync(s.diskPath)).toBe(true);
  });

  it.skipIf(process.getuid?.() !== 0)("through bangerd-root's jailer runner (a non-root bangerd's JailerHost; the socket hop is tested in rootd/)", async () => {
    const { createJailerRunner } = await import('../../rootd/jailer.js');
    const jailer = wrapper('jailer', fakeJailer);
    const base = join(dir, 'jail-host');
    mkdirSync(base);
    const runner = createJailerRunner({ ownerUid: process.getuid!(), ownerGid: process.getgid!(), jailerBase: base, log: silentLogger });
    const seen: string[] = [];
    const host = {
      spawn: async (req: Parameters<typeof runner.spawn>[0]) => {
        seen.push(`spawn ${req.vmId} ${req.chrootBase} ${req.serialLog === s.serialLogPath}`);
        return runner.spawn(req);
      },
      clean: async (req: Parameters<typeof runner.clean>[0]) => {
        seen.push(`clean ${req.vmId} ${req.chrootBase}`);
        return runner.clean(req);
      },
    };
    const s = makeSpec(dir, { id: '0123456789ab', runtimeDir: join(dir, 'run-host') });
    const d = createFirecrackerDriver({ bin, jailer: { enabled: true, bin: jailer, chrootBaseDir: base, host }, log: silentLogger, killGraceMs: 2000 });
    const h = track(await d.start(s, silentLogger));
    expect(h.jailRoot).toBe(join(base, 'firecracker', '0123456789ab', 'root'));
    const startRec = records(h.controlSocket).find((r) => r.event === 'start')!;
    expect(h.pid).toBe(startRec.pid);
    expect(withoutProbes(requestsSince(h.controlSocket, 0)).map((r) => r.path)).toContain('/boot-source');
    await d.kill(h);
    expect(existsSync(join(base, 'firecracker', '0123456789ab'))).toBe(false);
    expect(seen).toEqual([`spawn 0123456789ab ${base} true`, `clean 0123456789ab ${base}`]);
  });

  it('every request recorded in this file satisfied the spec', () => {
    expect(allRequests.length).toBeGreaterThan(20);
    expect(specErrors(allRequests)).toEqual([]);
  });
});
