import { describe, expect, it } from 'vitest';
import type { SnapshotSpec } from '../api/snapshot.js';
import { restoreBlocker, snapshotDamage, snapshotUnsupported } from './compat.js';
import { forkParallelism, mapLimit } from './fork.js';
import { autoSnapshotName, forkNames, staleWarmName, uniqueName, warmName } from './names.js';
import { decideWarm, warmCacheAction, warmKey, type WarmRequest } from './warm.js';

describe('fork and snapshot names', () => {
  it.each([
    ['web', 1, ['web']],
    ['web', 3, ['web-1', 'web-2', 'web-3']],
  ])('forkNames(%s, %d)', (base, n, want) => expect(forkNames(base, n)).toEqual(want));

  it('refuses counts and names that do not make valid VM names', () => {
    expect(() => forkNames('w', 0)).toThrow(/positive/);
    expect(() => forkNames('a'.repeat(62), 2)).toThrow(/"a{62}-1" is not a valid VM name/);
  });

  it('names snapshots after the VM and the UTC time, always a valid name', () => {
    const at = new Date(Date.UTC(2025, 0, 2, 3, 4, 5));
    expect(autoSnapshotName('web', at)).toBe('web-20250102-030405');
    const long = autoSnapshotName(`${'x'.repeat(60)}-y`, at);
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^x+-20250102-030405$/);
  });

  it('makes a name unique with -2, -3, ...', () => {
    const taken = new Set(['s', 's-2']);
    expect(uniqueName('s', (n) => taken.has(n))).toBe('s-3');
    expect(uniqueName('t', (n) => taken.has(n))).toBe('t');
  });

  it('keeps warm snapshots out of the user name space', () => {
    expect(warmName('debian-bookworm')).toBe('warm:debian-bookworm');
    expect(staleWarmName('debian-bookworm', 'abc')).toBe('warm:debian-bookworm:stale-abc');
  });
});

describe('warm start decision', () => {
  const defaults = { vcpu: 1, memoryMib: 2048, diskSizeBytes: 8 * 1024 ** 3 };
  const base: WarmRequest = {
    cold: false,
    image: undefined,
    defaultImage: 'debian-bookworm',
    vcpu: undefined,
    memoryMib: undefined,
    diskSizeBytes: undefined,
    network: 'user',
    defaults,
    unsupported: null,
  };
  it.each<[string, Partial<WarmRequest>, string | null | 'warm']>([
    ['defaults', {}, 'warm'],
    ['the default image named explicitly', { image: 'debian-bookworm' }, 'warm'],
    ['sizes equal to the defaults', { vcpu: 1, memoryMib: 2048, diskSizeBytes: 8 * 1024 ** 3 }, 'warm'],
    ['--cold', { cold: true }, null],
    // Issue 14: every image has its own warm snapshot.
    ['another image', { image: 'py' }, 'warm'],
    ['more memory', { memoryMib: 4096 }, 'cold boot: the warm snapshot has 2048 MiB of memory (config vm_defaults), --memory asks for 4096'],
    ['more vCPUs', { vcpu: 2 }, 'cold boot: the warm snapshot has 1 vCPU (config vm_defaults), --vcpu asks for 2'],
    ['another disk size', { diskSizeBytes: 16 * 1024 ** 3 }, 'cold boot: the warm snapshot has a 8192 MiB disk (config vm_defaults), --disk-size asks for 16384 MiB'],
    ['bridge networking', { network: 'bridge' }, 'cold boot: warm start covers user-mode networking only'],
    ['a driver without snapshots (quietly)', { unsupported: 'the firecracker driver cannot freeze a disk' }, null],
  ])('%s', (_what, patch, want) => {
    const d = decideWarm({ ...base, ...patch });
    if (want === 'warm') expect(d).toEqual({ mode: 'warm' });
    else expect(d).toEqual({ mode: 'cold', reason: want });
  });

  const key = {
    imageSha: 'i'.repeat(64),
    kernelSha: 'k'.repeat(64),
    vcpu: 1,
    memoryMib: 2048,
    diskSizeBytes: 1,
    accel: 'tcg',
    hypervisor: 'qemu',
    hypervisorVersion: '7.2.22',
    sshKeyBlob: 'AAAA',
  };
  it('keys the cache on everything the template was built from', () => {
    const k = warmKey(key);
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(warmKey({ ...key })).toBe(k);
    for (const change of [{ imageSha: 'j'.repeat(64) }, { kernelSha: 'l'.repeat(64) }, { memoryMib: 4096 }, { vcpu: 2 }, { diskSizeBytes: 2 }, { accel: 'kvm' }, { hypervisorVersion: '8.0.0' }, { sshKeyBlob: 'BBBB' }]) {
      expect(warmKey({ ...key, ...change })).not.toBe(k);
    }
  });

  it('uses, builds or replaces the cached warm snapshot', () => {
    expect(warmCacheAction(null, 'k1')).toBe('build');
    expect(warmCacheAction({ warmKey: 'k1' }, 'k1')).toBe('use');
    expect(warmCacheAction({ warmKey: 'k0' }, 'k1')).toBe('replace');
    expect(warmCacheAction({ warmKey: undefined }, 'k1')).toBe('replace');
  });
});

describe('restore compatibility', () => {
  const spec: SnapshotSpec = {
    vcpu: 1,
    memoryMib: 512,
    diskSizeBytes: 1,
    accel: 'tcg',
    hypervisor: 'qemu',
    hypervisorVersion: '7.2.22',
    network: 'user',
    workspace: null,
  };
  it.each<[Partial<SnapshotSpec>, { accel: 'kvm' | 'tcg'; hypervisor: string }, RegExp | null]>([
    [{}, { accel: 'tcg', hypervisor: 'qemu' }, null],
    [{}, { accel: 'kvm', hypervisor: 'qemu' }, /saved under tcg and this daemon runs kvm/],
    [{}, { accel: 'tcg', hypervisor: 'firecracker' }, /saved by the qemu hypervisor/],
    [{ network: 'bridge' }, { accel: 'tcg', hypervisor: 'qemu' }, /user-mode/],
  ])('%o on %o', (patch, host, want) => {
    const r = restoreBlocker({ ...spec, ...patch }, host);
    if (want) expect(r).toMatch(want);
    else expect(r).toBeNull();
  });

  it('needs state saving and a disk switch into qcow2 layers', () => {
    const qemu = { name: 'qemu', features: { snapshots: true, diskFormats: ['qcow2', 'raw'] as const }, canSave: true, canSwitchDisk: true };
    expect(snapshotUnsupported(qemu)).toBeNull();
    expect(snapshotUnsupported({ ...qemu, name: 'firecracker', features: { snapshots: true, diskFormats: ['raw'] as const }, canSwitchDisk: false })).toMatch(
      /firecracker driver cannot freeze a running VM's disk/,
    );
    expect(snapshotUnsupported({ ...qemu, canSave: false })).toMatch(/cannot save a VM's state/);
  });
});

describe('fork parallelism', () => {
  it.each([
    [1, 1],
    [2, 2],
    [6, 6],
    [64, 8],
    [0, 1],
    [Number.NaN, 1],
  ])('%d cores restore %d children at once', (cores, want) => expect(forkParallelism(cores)).toBe(want));

  it('mapLimit keeps to its limit, keeps the order and reports failures without rejecting', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([1, 2, 3, 4, 5], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      if (n === 3) throw new Error('three');
      return n * 10;
    });
    expect(peak).toBe(2);
    expect(out.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([10, 20, 'three', 40, 50]);
  });
});

describe('snapshotDamage: saved files a restore cannot load', () => {
  const spec = { vcpu: 1, memoryMib: 2, diskSizeBytes: 1, accel: 'tcg', hypervisor: 'qemu', hypervisorVersion: '7.2', network: 'user', workspace: null } as SnapshotSpec;
  const ram = 2 * 1024 * 1024;
  it.each([
    ['intact, RAM in its own file', { ...spec, memoryFile: true }, { stateBytes: 900, memoryBytes: ram, layerBytes: 1 }, null],
    ['intact, RAM in the state', { ...spec, memoryFile: false }, { stateBytes: 900, memoryBytes: null, layerBytes: 1 }, null],
    ['older snapshot without the record, no RAM file', spec, { stateBytes: 900, memoryBytes: null, layerBytes: 1 }, null],
    ['state missing', spec, { stateBytes: null, memoryBytes: ram, layerBytes: 1 }, 'its saved state (state.bin) is missing'],
    ['state empty', spec, { stateBytes: 0, memoryBytes: ram, layerBytes: 1 }, 'its saved state (state.bin) is empty'],
    ['RAM file missing', { ...spec, memoryFile: true }, { stateBytes: 900, memoryBytes: null, layerBytes: 1 }, 'its memory file (memory.bin) is missing'],
    ['RAM file cut short', { ...spec, memoryFile: true }, { stateBytes: 900, memoryBytes: 4096, layerBytes: 1 }, "its memory file (memory.bin) is 4096 bytes, not the guest's 2 MiB"],
    ['disk layer missing', { ...spec, memoryFile: true }, { stateBytes: 900, memoryBytes: ram, layerBytes: null }, 'its disk layer (disk.qcow2) is missing'],
    ['RAM file cut short, older snapshot', spec, { stateBytes: 900, memoryBytes: 4096, layerBytes: 1 }, "its memory file (memory.bin) is 4096 bytes, not the guest's 2 MiB"],
  ] as const)('%s', (_, s, files, want) => expect(snapshotDamage(s, files)).toBe(want));
});
