import { describe, expect, it } from 'vitest';
import { BangerError } from '../api/errors.js';
import { silentLogger } from '../host/logger.js';
import { bridgeAvailability, decideDriver, defaultRegistry, locateDrivers, type DriverFacts } from './registry.js';

const both = (qemu: string | null, fc: string | null): DriverFacts['drivers'] => [
  { name: 'qemu', requiresKvm: false, userNetworking: true, binary: qemu },
  { name: 'firecracker', requiresKvm: true, userNetworking: false, binary: fc },
];
const root = bridgeAvailability({ root: true, helper: false });

describe('decideDriver', () => {
  it.each([
    ['auto, firecracker present, kvm', 'auto', 'kvm', both('/q', '/fc'), 'firecracker', /installed, KVM is usable and bangerd runs as root/],
    ['auto, firecracker present, tcg (this host)', 'auto', 'tcg', both('/q', '/fc'), 'qemu', /firecracker needs KVM/],
    ['auto, no firecracker, kvm', 'auto', 'kvm', both('/q', null), 'qemu', /firecracker is not installed/],
    ['auto, firecracker not registered', 'auto', 'kvm', [{ name: 'qemu', requiresKvm: false, userNetworking: true, binary: '/q' }], 'qemu', /not built into/],
    ['qemu requested, kvm', 'qemu', 'kvm', both('/q', '/fc'), 'qemu', /hypervisor=qemu requested/],
    ['qemu requested, tcg', 'qemu', 'tcg', both('/q', null), 'qemu', /requested/],
    ['firecracker requested, kvm', 'firecracker', 'kvm', both(null, '/fc'), 'firecracker', /requested/],
  ] as const)('%s', (_l, requested, accel, drivers, name, reason) => {
    const d = decideDriver({ requested, accel, drivers: [...drivers], bridge: root });
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
      decideDriver({ requested, accel, drivers: [...drivers], bridge: root });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BangerError);
    expect((caught as BangerError).code).toBe('unavailable');
    expect((caught as BangerError).message).toMatch(message);
  });
});

describe('locateDrivers', () => {
  it('the default registry has both drivers and finds QEMU on this host', async () => {
    const reg = defaultRegistry();
    expect(reg.names().sort()).toEqual(['firecracker', 'qemu']);
    expect(await reg.get('qemu')!.locate()).toMatch(/qemu-system-x86_64$/);
    const facts = await locateDrivers(defaultRegistry({ firecrackerBin: '/nonexistent/firecracker' }));
    expect(facts.find((d) => d.name === 'firecracker')).toEqual({ name: 'firecracker', requiresKvm: true, userNetworking: false, binary: null });
    expect(facts.find((d) => d.name === 'qemu')?.binary).toMatch(/qemu-system-x86_64$/);
    const picked = decideDriver({ requested: 'auto', accel: 'tcg', drivers: facts, bridge: root });
    expect(picked.name).toBe('qemu');
    const driver = reg.get(picked.name)!.create(silentLogger);
    expect((await driver.info()).name).toBe('qemu');
  });
});
