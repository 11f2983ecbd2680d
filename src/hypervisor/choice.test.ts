import { describe, expect, it } from 'vitest';
import { BangerError } from '../api/errors.js';
import type { HostAccelFacts } from './accel.js';
import { chooseHypervisor, vmNetworkFor, type HostFacts } from './choice.js';

const KVM: HostAccelFacts = { kvmDevice: true, kvmAccessible: true, kvmModules: ['kvm', 'kvm_intel'], cpuFlags: ['vmx'] };
const PVM: HostAccelFacts = { kvmDevice: true, kvmAccessible: true, kvmModules: ['kvm', 'kvm_pvm'], cpuFlags: [] };
const NO_KVM: HostAccelFacts = { kvmDevice: false, kvmModules: [], cpuFlags: [] };

const drivers = (fc: boolean, qemu = true): HostFacts['drivers'] => [
  { name: 'qemu', requiresKvm: false, userNetworking: true, binary: qemu ? '/usr/bin/qemu-system-x86_64' : null },
  { name: 'firecracker', requiresKvm: true, userNetworking: false, binary: fc ? '/usr/bin/firecracker' : null },
];

const host = (kvm: HostAccelFacts, fc: boolean, root: boolean, helper: boolean, over: Partial<HostFacts> = {}): HostFacts => ({
  hypervisor: 'auto',
  accel: 'auto',
  kvm,
  drivers: drivers(fc),
  root,
  helper,
  ...over,
});

describe('chooseHypervisor: auto from host facts', () => {
  // kvm facts, firecracker on PATH, root, helper → accel, driver, default network, why
  it.each([
    ['workstation, KVM, firecracker, helper installed', KVM, true, false, true, 'kvm', 'firecracker', 'bridge', /KVM is usable and the root helper/],
    ['workstation, KVM, firecracker, root', KVM, true, true, false, 'kvm', 'firecracker', 'bridge', /runs as root/],
    ['workstation, KVM, firecracker, no helper, not root', KVM, true, false, false, 'kvm', 'qemu', 'user', /firecracker VMs need a tap.*sudo banger system install/],
    ['workstation, KVM, no firecracker, helper', KVM, false, false, true, 'kvm', 'qemu', 'user', /firecracker is not installed/],
    ['workstation, KVM, no firecracker, rootless', KVM, false, false, false, 'kvm', 'qemu', 'user', /firecracker is not installed/],
    ['this CI host: kvm_pvm, firecracker present, root', PVM, true, true, false, 'tcg', 'qemu', 'user', /firecracker needs KVM/],
    ['no /dev/kvm, helper', NO_KVM, true, false, true, 'tcg', 'qemu', 'user', /needs KVM/],
    ['no /dev/kvm, rootless, nothing else', NO_KVM, false, false, false, 'tcg', 'qemu', 'user', /not installed/],
  ] as const)('%s', (_l, kvm, fc, root, helper, accel, driver, mode, why) => {
    const c = chooseHypervisor(host(kvm, fc, root, helper));
    expect(c.accel).toBe(accel);
    expect(c.driver).toBe(driver);
    expect(c.defaultNetwork.mode).toBe(mode);
    expect(c.defaultNetwork.nat).toBe(mode === 'bridge');
    expect(c.driverReason).toMatch(why);
    expect(c.bridge.available).toBe(root || helper);
  });

  it('KVM present but not accessible to the user: TCG, and the reason names the kvm group', () => {
    const c = chooseHypervisor(host({ ...KVM, kvmAccessible: false }, true, false, true));
    expect([c.accel, c.driver]).toEqual(['tcg', 'qemu']);
    expect(c.accelReason).toMatch(/kvm group/);
  });

  it('an explicit firecracker without a way to make taps is refused, naming the fix', () => {
    expect(() => chooseHypervisor(host(KVM, true, false, false, { hypervisor: 'firecracker' }))).toThrow(/needs? a tap.*sudo banger system install/);
  });

  it('explicit qemu wins over an available firecracker; accel=tcg is honoured on a KVM host', () => {
    const c = chooseHypervisor(host(KVM, true, true, false, { hypervisor: 'qemu', accel: 'tcg' }));
    expect([c.accel, c.driver, c.defaultNetwork.mode]).toEqual(['tcg', 'qemu', 'user']);
  });

  it('accel=kvm where it cannot work is an error, not a hang', () => {
    expect(() => chooseHypervisor(host(PVM, false, true, false, { accel: 'kvm' }))).toThrow(BangerError);
  });
});

describe('vmNetworkFor: the network mode a VM asks for', () => {
  const qemuRootless = chooseHypervisor(host(NO_KVM, false, false, false));
  const qemuHelper = chooseHypervisor(host(KVM, false, false, true));
  const fc = chooseHypervisor(host(KVM, true, false, true));
  it.each([
    ['qemu rootless, default', qemuRootless, {}, { mode: 'user', nat: false }],
    ['qemu with helper, default', qemuHelper, {}, { mode: 'user', nat: false }],
    ['qemu with helper, bridge', qemuHelper, { mode: 'bridge' }, { mode: 'bridge', nat: false }],
    ['qemu with helper, bridge + nat', qemuHelper, { mode: 'bridge', nat: true }, { mode: 'bridge', nat: true }],
    ['firecracker, default: bridge with NAT', fc, {}, { mode: 'bridge', nat: true }],
    ['firecracker, bridge without nat', fc, { mode: 'bridge' }, { mode: 'bridge', nat: false }],
    ['firecracker, default, --nat off', fc, { nat: false }, { mode: 'bridge', nat: false }],
  ] as const)('%s', (_l, choice, ask, want) => {
    expect(vmNetworkFor(choice, ask)).toEqual(want);
  });

  it('bridge without root or helper says `sudo banger system install`', () => {
    expect(() => vmNetworkFor(qemuRootless, { mode: 'bridge' })).toThrow(/sudo banger system install/);
  });

  it('user mode on a Firecracker host says how to get it', () => {
    expect(() => vmNetworkFor(fc, { mode: 'user' })).toThrow(/no user-mode networking.*hypervisor = "qemu"/);
  });
});
