/**
 * Which registered drivers the conformance suite (conformance.vm.test.ts) can run on this host, and
 * how. Pure, table-tested: the facts are gathered by the suite, every skip carries the reason it prints.
 * Decisions read the drivers' feature flags, never their names.
 */
import type { KvmUsability } from './accel.js';
import type { Accel, DriverInfo } from './driver.js';

export interface DriverProbe {
  name: string;
  /** The located binary, or null when it is not installed. */
  binary: string | null;
  /** `info()` once the binary is found. */
  info?: DriverInfo;
  /** Why `info()` failed, when it did. */
  infoError?: string;
}

export interface ConformanceHost {
  kvm: KvmUsability;
  isRoot: boolean;
}

export type ConformanceTarget =
  | {
      name: string;
      run: true;
      accel: Accel;
      info: DriverInfo;
      /** How the guest is reached: user-mode forwarding, or a tap inside a namespace the suite creates. */
      network: 'user' | 'netns-tap';
      disk: 'qcow2' | 'raw';
    }
  | { name: string; run: false; reason: string };

export function planConformance(drivers: readonly DriverProbe[], host: ConformanceHost): ConformanceTarget[] {
  return drivers.map((d) => planOne(d, host));
}

function planOne(d: DriverProbe, host: ConformanceHost): ConformanceTarget {
  const skip = (reason: string): ConformanceTarget => ({ name: d.name, run: false, reason });
  if (!d.binary) return skip(`${d.name} is not installed (its binary is not on PATH)`);
  if (d.infoError || !d.info) return skip(`${d.name} is installed at ${d.binary} but reports no usable version: ${d.infoError ?? 'info() returned nothing'}`);
  const f = d.info.features;
  // Prefer KVM when it works here; TCG only for drivers that can emulate.
  const accel: Accel | undefined = host.kvm.usable && f.accelerators.includes('kvm') ? 'kvm' : f.accelerators.includes('tcg') ? 'tcg' : undefined;
  if (!accel) return skip(`${d.name} ${d.info.version} needs KVM, which is not usable here: ${host.kvm.reason}`);
  if (f.needsRoot && !host.isRoot) return skip(`${d.name} ${d.info.version} needs root`);
  // Without user-mode networking the guest is reached through a tap in a private namespace, which needs root.
  if (!f.userNetworking && !host.isRoot) return skip(`${d.name} ${d.info.version} has no user-mode networking, and the tap in a network namespace needs root`);
  const disk = f.diskFormats.includes('qcow2') ? 'qcow2' : f.diskFormats.includes('raw') ? 'raw' : undefined;
  if (!disk) return skip(`${d.name} ${d.info.version} boots neither qcow2 nor raw disks`);
  return { name: d.name, run: true, accel, info: d.info, network: f.userNetworking ? 'user' : 'netns-tap', disk };
}
