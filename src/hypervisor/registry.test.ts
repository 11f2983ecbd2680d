import { describe, expect, it } from 'vitest';
import { BangerError } from '../api/errors.js';
import { silentLogger } from '../host/logger.js';
import type { Driver } from './driver.js';
import { decideDriver, defaultRegistry, DriverRegistry, selectDriver, type DriverFacts } from './registry.js';

const both = (qemu: string | null, fc: string | null): DriverFacts['drivers'] => [
  { name: 'qemu', requiresKvm: false, binary: qemu },
  { name: 'firecracker', requiresKvm: true, binary: fc },
];

describe('decideDriver', () => {
  it.each([
    ['auto, firecracker present, kvm', 'auto', 'kvm', both('/q', '/fc'), 'firecracker', /installed and KVM is usable/],
    ['auto, firecracker present, tcg (this host)', 'auto', 'tcg', both('/q', '/fc'), 'qemu', /firecracker needs KVM/],
    ['auto, no firecracker, kvm', 'auto', 'kvm', both('/q', null), 'qemu', /firecracker is not installed/],
    ['auto, firecracker not registered', 'auto', 'kvm', [{ name: 'qemu', requiresKvm: false, binary: '/q' }], 'qemu', /not built into/],
    ['qemu requested, kvm', 'qemu', 'kvm', both('/q', '/fc'), 'qemu', /hypervisor=qemu requested/],
    ['qemu requested, tcg', 'qemu', 'tcg', both('/q', null), 'qemu', /requested/],
    ['firecracker requested, kvm', 'firecracker', 'kvm', both(null, '/fc'), 'firecracker', /requested/],
  ] as const)('%s', (_l, requested, accel, drivers, name, reason) => {
    const d = decideDriver({ requested, accel, drivers: [...drivers] });
    expect(d.name).toBe(name);
    expect(d.reason).toMatch(reason);
  });

  it.each([
    ['firecracker on tcg', 'firecracker', 'tcg', both('/q', '/fc'), /hypervisor=firecracker was requested but firecracker needs KVM/],
    ['firecracker missing', 'firecracker', 'kvm', both('/q', null), /firecracker is not installed/],
    ['qemu missing', 'qemu', 'tcg', both(null, null), /qemu is not installed/],
    ['nothing usable', 'auto', 'tcg', both(null, '/fc'), /no hypervisor can run here: qemu is not installed.*apt-get install qemu-system-x86/],
  ] as const)('refuses %s', (_l, requested, accel, drivers, message) => {
    let caught: unknown;
    try {
      decideDriver({ requested, accel, drivers: [...drivers] });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BangerError);
    expect((caught as BangerError).code).toBe('unavailable');
    expect((caught as BangerError).message).toMatch(message);
  });
});

describe('selectDriver', () => {
  // The factory map is the seam: entries whose drivers are never started.
  const stub = (label: string) => ({ label }) as unknown as Driver;
  const registry = () =>
    new DriverRegistry()
      .register({ name: 'qemu', requiresKvm: false, locate: async () => '/usr/bin/qemu', create: () => stub('qemu') })
      .register({ name: 'firecracker', requiresKvm: true, locate: async () => '/usr/bin/firecracker', create: () => stub('fc') });

  it('creates the chosen entry', async () => {
    const kvm = await selectDriver({ requested: 'auto', accel: 'kvm', log: silentLogger, registry: registry() });
    expect(kvm.name).toBe('firecracker');
    expect(kvm.driver).toEqual({ label: 'fc' });
    const tcg = await selectDriver({ requested: 'auto', accel: 'tcg', log: silentLogger, registry: registry() });
    expect(tcg.name).toBe('qemu');
    expect(tcg.driver).toEqual({ label: 'qemu' });
  });

  it('the default registry has both drivers and finds QEMU on this host', async () => {
    const reg = defaultRegistry();
    expect(reg.names().sort()).toEqual(['firecracker', 'qemu']);
    expect(await reg.get('qemu')!.locate()).toMatch(/qemu-system-x86_64$/);
    expect(await defaultRegistry({ firecrackerBin: '/nonexistent/firecracker' }).get('firecracker')!.locate()).toBeNull();
    const picked = await selectDriver({ requested: 'auto', accel: 'tcg', log: silentLogger, config: { firecrackerBin: '/nonexistent/firecracker' } });
    expect(picked.name).toBe('qemu');
    expect(typeof picked.driver.start).toBe('function');
    expect((await picked.driver.info()).name).toBe('qemu');
  });
});
