import { describe, expect, it } from 'vitest';
import { planConformance, type ConformanceHost, type DriverProbe } from './conformance-plan.js';
import type { DriverInfo } from './driver.js';

const qemuLike: DriverInfo = {
  name: 'qemu',
  version: '7.2.19',
  features: { snapshots: true, needsRoot: false, accelerators: ['kvm', 'tcg'], userNetworking: true, diskFormats: ['qcow2', 'raw'] },
};
const fcLike: DriverInfo = {
  name: 'firecracker',
  version: '1.14.1',
  features: { snapshots: true, needsRoot: true, accelerators: ['kvm'], userNetworking: false, diskFormats: ['raw'] },
};
const tcgHost: ConformanceHost = { kvm: { usable: false, reason: '/dev/kvm is provided by kvm_pvm' }, isRoot: true };
const kvmHost: ConformanceHost = { kvm: { usable: true, reason: 'KVM is usable (vmx)' }, isRoot: true };

const probe = (info: DriverInfo, extra: Partial<DriverProbe> = {}): DriverProbe => ({ name: info.name, binary: `/usr/bin/${info.name}`, info, ...extra });

describe('planConformance', () => {
  it('runs QEMU under TCG and skips Firecracker with the KVM reason on this kind of host', () => {
    const [q, fc] = planConformance([probe(qemuLike), probe(fcLike)], tcgHost);
    expect(q).toMatchObject({ name: 'qemu', run: true, accel: 'tcg', network: 'user', disk: 'qcow2' });
    expect(fc).toEqual({ name: 'firecracker', run: false, reason: expect.stringMatching(/needs KVM.*kvm_pvm/) });
  });

  it('runs both on a KVM host as root, Firecracker over a namespaced tap with a raw disk', () => {
    const [q, fc] = planConformance([probe(qemuLike), probe(fcLike)], kvmHost);
    expect(q).toMatchObject({ run: true, accel: 'kvm' });
    expect(fc).toMatchObject({ run: true, accel: 'kvm', network: 'netns-tap', disk: 'raw' });
  });

  it.each([
    ['not installed', { binary: null }, kvmHost, /not installed/],
    ['version probe failed', { info: undefined, infoError: 'exit 1' }, kvmHost, /reports no usable version: exit 1/],
    ['needs root', {}, { ...kvmHost, isRoot: false }, /needs root/],
  ] as const)('skips Firecracker when %s', (_label, extra, host, reason) => {
    const [t] = planConformance([probe(fcLike, extra as Partial<DriverProbe>)], host);
    expect(t.run).toBe(false);
    if (!t.run) expect(t.reason).toMatch(reason);
  });

  it('skips a rootless driver without user networking when not root', () => {
    const noUserNet = { ...qemuLike, features: { ...qemuLike.features, userNetworking: false } };
    const [t] = planConformance([probe(noUserNet)], { ...tcgHost, isRoot: false });
    expect(t).toMatchObject({ run: false, reason: expect.stringMatching(/no user-mode networking/) });
  });

  it('skips a driver with no disk format it can boot', () => {
    const [t] = planConformance([probe({ ...qemuLike, features: { ...qemuLike.features, diskFormats: [] } })], tcgHost);
    expect(t).toMatchObject({ run: false, reason: expect.stringMatching(/neither qcow2 nor raw/) });
  });
});
