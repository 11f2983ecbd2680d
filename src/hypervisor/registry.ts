/**
 * The driver registry: drivers register by name, and the rest of banger asks for one by name or
 * lets `auto` choose. `decideDriver` is the pure rule (table-tested); `selectDriver` gathers the facts.
 *
 * auto: Firecracker when its binary is present and KVM is usable (it has no TCG), else QEMU.
 */
import { BangerError } from '../api/errors.js';
import { which } from '../host/exec.js';
import type { Logger } from '../host/logger.js';
import type { Accel, Driver } from './driver.js';
import { createFirecrackerDriver } from './firecracker/driver.js';
import type { JailerConfig } from './firecracker/jailer.js';
import { createQemuDriver } from './qemu/driver.js';

export type DriverName = 'qemu' | 'firecracker';
export type DriverRequest = 'auto' | DriverName;

export interface DriverEntry {
  name: DriverName;
  /** Runs only with KVM (no software emulation). */
  requiresKvm: boolean;
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
      locate: () => locateBinary(qemuBin),
      create: (log) => createQemuDriver({ bin: qemuBin, log }),
    })
    .register({
      name: 'firecracker',
      requiresKvm: true,
      locate: () => locateBinary(firecrackerBin),
      create: (log) => createFirecrackerDriver({ bin: firecrackerBin, jailer: bins.jailer, log }),
    });
}

/** What the choice depends on, per registered driver. */
export interface DriverFacts {
  requested: DriverRequest;
  /** The accelerator already chosen for this host (see accel.ts). */
  accel: Accel;
  drivers: Array<{ name: DriverName; requiresKvm: boolean; binary: string | null }>;
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
  if (!fc) return { name: 'firecracker', reason: 'firecracker is installed and KVM is usable' };
  const qemu = blocker('qemu');
  if (!qemu) return { name: 'qemu', reason: `using qemu: ${fc}` };
  throw new BangerError('unavailable', `no hypervisor can run here: ${qemu}; ${fc}. Install QEMU (apt-get install qemu-system-x86) and run \`banger doctor\`.`);
}

export interface SelectDriverOptions {
  requested: DriverRequest;
  accel: Accel;
  log: Logger;
  /** Binaries for the default registry (banger's Config fits). */
  config?: DriverBins;
  /** Defaults to `defaultRegistry(config)`. */
  registry?: DriverRegistry;
}

/** Chooses and creates the driver for this host. */
export async function selectDriver(opts: SelectDriverOptions): Promise<{ driver: Driver; name: DriverName; reason: string }> {
  const registry = opts.registry ?? defaultRegistry(opts.config);
  const drivers = await Promise.all(
    registry.names().map(async (name) => {
      const entry = registry.get(name)!;
      return { name, requiresKvm: entry.requiresKvm, binary: await entry.locate() };
    }),
  );
  const decision = decideDriver({ requested: opts.requested, accel: opts.accel, drivers });
  opts.log.info({ driver: decision.name, reason: decision.reason }, 'hypervisor driver selected');
  return { driver: registry.get(decision.name)!.create(opts.log), ...decision };
}
