/**
 * Module load order for the initramfs: dependencies before dependants, in a stable order
 * (wanted order first, each module's dependencies in the order .modinfo lists them). Pure.
 */
import { BangerError } from '../../api/errors.js';

/**
 * The modules banger's initramfs loads for a virtio guest: block, net, mmio/pci transports,
 * rng, console and vsock (for Firecracker hosts). Dependencies are added automatically.
 */
export const GUEST_MODULES: readonly string[] = [
  'virtio_ring',
  'virtio',
  'virtio_mmio',
  'virtio_pci_modern_dev',
  'virtio_pci_legacy_dev',
  'virtio_pci',
  'virtio_blk',
  'failover',
  'net_failover',
  'virtio_net',
  'virtio_rng',
  'virtio_console',
  'vsock',
  'vmw_vsock_virtio_transport_common',
  'vmw_vsock_virtio_transport',
];

/** Module names use '_' where some file names use '-' (virtio-rng.ko is module virtio_rng). */
export function normaliseModuleName(nameOrFile: string): string {
  const base = nameOrFile.slice(nameOrFile.lastIndexOf('/') + 1);
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

export type DependsMap = ReadonlyMap<string, readonly string[]> | Readonly<Record<string, readonly string[]>>;

/**
 * Returns `wanted` plus their transitive dependencies, every module after all of its dependencies.
 * Names are normalised. Throws bad_request naming a missing dependency or the cycle.
 */
export function moduleLoadOrder(wanted: readonly string[], depends: DependsMap): string[] {
  const lookup = normaliseDepends(depends);

  const order: string[] = [];
  const done = new Set<string>();
  const stack: string[] = [];

  const visit = (name: string, neededBy: string | undefined) => {
    if (done.has(name)) return;
    const at = stack.indexOf(name);
    if (at >= 0) {
      const cycle = [...stack.slice(at), name].join(' -> ');
      throw new BangerError('bad_request', `kernel modules depend on each other in a cycle: ${cycle}`, { details: { cycle } });
    }
    const deps = lookup.get(name);
    if (!deps) {
      const who = neededBy ? ` (needed by ${neededBy})` : '';
      throw new BangerError('bad_request', `kernel module ${name}${who} is not in the kernel's modules`, {
        details: { module: name, neededBy },
      });
    }
    stack.push(name);
    for (const dep of deps) visit(dep, name);
    stack.pop();
    done.add(name);
    order.push(name);
  };

  for (const name of wanted) visit(normaliseModuleName(name), undefined);
  return order;
}

/** True when every module in `order` comes after all of its dependencies (and they are all present). */
export function isValidLoadOrder(order: readonly string[], depends: DependsMap): boolean {
  const lookup = normaliseDepends(depends);
  const seen = new Set<string>();
  for (const raw of order) {
    const name = normaliseModuleName(raw);
    const deps = lookup.get(name);
    if (!deps || !deps.every((d) => seen.has(d))) return false;
    seen.add(name);
  }
  return true;
}

function normaliseDepends(depends: DependsMap): Map<string, string[]> {
  const entries = depends instanceof Map ? [...depends.entries()] : Object.entries(depends);
  return new Map(entries.map(([name, deps]) => [normaliseModuleName(name), deps.map(normaliseModuleName)]));
}
