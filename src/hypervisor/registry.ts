/**
 * The driver registry: drivers register by name, and the rest of banger asks for one by name or
 * lets `auto` choose. `decideDriver` is the pure rule (table-tested); `locateDrivers` gathers the facts; hypervisor/choice.ts composes it with the accelerator.
 *
 * auto: Firecracker when its binary is present, KVM is usable (it has no TCG) and the VMs it would run
 * can have a network (it has no user-mode networking: each VM needs a tap, made by root or by the root
 * helper); else QEMU, with the reason said.
 */
import type { HypervisorName, HypervisorSetting } from '../api/enums.js';
import { BangerError } from '../api/errors.js';
import { which } from '../host/exec.js';
import type { Logger } from '../host/logger.js';
import type { Accel, Driver } from './driver.js';
import { createFirecrackerDriver } from './firecracker/driver.js';
import type { JailerConfig } from './firecracker/jailer.js';
import { createQemuDriver } from './qemu/driver.js';

export type DriverName = HypervisorName;
export type DriverRequest = HypervisorSetting;

export interface DriverEntry {
  name: DriverName;
  /** Runs only with KVM (no software emulation). */
  requiresKvm: boolean;
  /** Can give a VM a network without a tap (QEMU user mode); false: every VM needs bridge networking. */
  userNetworking: boolean;
  /** Where the driver's binary is, or null when it is not installed. */
  locate(): Promise<string | null>;
  create(log: Logger): Driver;
}

export class DriverRegistry {
  private readonly entries = new Map<DriverName, DriverEntry>();

  register(entry: DriverEntry): this {
    this.entries.set(entry.name, entry);
    return this;
  }

  get(name: DriverName): DriverEntry | undefined {
    return this.entries.get(name);
  }

  names(): DriverName[] {
    return [...this.entries.keys()];
  }
}

/** Binaries and options for the built-in drivers; banger's Config satisfies this shape. */
export interface DriverBins {
  qemuBin?: string;
  firecrackerBin?: string;
  jailer?: JailerConfig;
}

/** A binary name or path → its path when executable here. */
async function locateBinary(bin: string): Promise<string | null> {
  return which(bin);
}

/** QEMU and Firecracker, configured from `bins`. */
export function defaultRegistry(bins: DriverBins = {}): DriverRegistry {
  const qemuBin = bins.qemuBin ?? 'qemu-system-x86_64';
  const firecrackerBin = bins.firecrackerBin ?? 'firecracker';
  return new DriverRegistry()
    .register({
      name: 'qemu',
      requiresKvm: false,
      userNetworking: true,
      locate: () => locateBinary(qemuBin),
      create: (log) => createQemuDriver({ bin: qemuBin, log }),
    })
    .register({
      name: 'firecracker',
      requiresKvm: true,
      userNetworking: false,
      locate: () => locateBinary(firecrackerBin),
      create: (log) => createFirecrackerDriver({ bin: firecrackerBin, jailer: bins.jailer, log }),
    });
}

/** What the choice depends on, per registered driver. */
export interface DriverFacts {
  requested: DriverRequest;
  /** The accelerator already chosen for this host (see accel.ts). */
  accel: Accel;
  drivers: Array<{ name: DriverName; requiresKvm: boolean; userNetworking: boolean; binary: string | null }>;
  /** Can VMs here get a tap (bridge networking)? Root, or the root helper installed. */
  bridge: BridgeAvailability;
}

export interface BridgeAvailability {
  available: boolean;
  /** Why (not): "running as root", "the root helper answers", "not root and no root helper: ...". */
  reason: string;
}

/** Where bridge networking can come from, as one fact for the driver choice and `doctor`. Pure. */
export function bridgeAvailability(host: { root: boolean; helper: boolean }): BridgeAvailability {
  if (host.root) return { available: true, reason: 'bangerd runs as root' };
  if (host.helper) return { available: true, reason: 'the root helper (bangerd-root) answers' };
  return { available: false, reason: 'bangerd is not root and no root helper is installed (sudo banger system install)' };
}

export interface DriverDecision {
  name: DriverName;
  reason: string;
}

/** Picks the driver, or throws `unavailable` saying what is missing. Pure. */
export function decideDriver(facts: DriverFacts): DriverDecision {
  const find = (name: DriverName) => facts.drivers.find((d) => d.name === name);
  const blocker = (name: DriverName): string | null => {
    const d = find(name);
    if (!d) return `the ${name} driver is not built into this banger`;
    if (!d.binary) return `${name} is not installed (not found on PATH)`;
    if (d.requiresKvm && facts.accel !== 'kvm') return `${name} needs KVM and this host runs VMs under TCG`;
    if (!d.userNetworking && !facts.bridge.available) return `${name} VMs need a tap and ${facts.bridge.reason}`;
    return null;
  };
  if (facts.requested !== 'auto') {
    const why = blocker(facts.requested);
    if (why) {
      throw new BangerError('unavailable', `hypervisor=${facts.requested} was requested but ${why}. Set hypervisor to "auto" or run \`banger doctor\`.`);
    }
    return { name: facts.requested, reason: `hypervisor=${facts.requested} requested` };
  }
  const fc = blocker('firecracker');
  if (!fc) return { name: 'firecracker', reason: `firecracker is installed, KVM is usable and ${facts.bridge.reason}` };
  const qemu = blocker('qemu');
  if (!qemu) return { name: 'qemu', reason: `using qemu: ${fc}` };
  throw new BangerError('unavailable', `no hypervisor can run here: ${qemu}; ${fc}. Install QEMU (apt-get install qemu-system-x86) and run \`banger doctor\`.`);
}

/** Where each registered driver's binary is on this host (null: not installed): the drivers part of the facts. */
export async function locateDrivers(registry: DriverRegistry): Promise<DriverFacts['drivers']> {
  return Promise.all(
    registry.names().map(async (name) => {
      const entry = registry.get(name)!;
      return { name, requiresKvm: entry.requiresKvm, userNetworking: entry.userNetworking, binary: await entry.locate() };
    }),
  );
}
