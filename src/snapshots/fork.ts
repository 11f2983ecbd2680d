/**
 * `vm fork`: N new VMs restored from one snapshot (a VM given as the source is snapshotted first),
 * each with its own overlay on the snapshot's layer and a fresh identity, a few at a time. Names
 * are checked up front; a partial failure names what was created and what failed.
 */
import { dirname } from 'node:path';
import type { Accel } from '../api/enums.js';
import { BangerError, conflict, notFound } from '../api/errors.js';
import type { Progress } from '../api/progress.js';
import type { Vm } from '../api/vm.js';
import type { VmStore } from '../store/vms.js';
import type { VmService } from '../vms/contracts.js';
import { restoreBlocker, snapshotDamage } from './compat.js';
import { forkNames } from './names.js';
import type { SnapshotRegistry } from './registry.js';
import type { TakeSnapshot } from './take.js';

export interface ForkDeps {
  registry: SnapshotRegistry;
  vmStore: Pick<VmStore, 'findByName'>;
  vms: Pick<VmService, 'createFrom'>;
  take: TakeSnapshot;
  accel: Accel;
  driverName: string;
  /** How many fork children are restored at once. */
  forkParallelism: number;
}

export type Fork = (p: { source: string; name: string; count: number; egress: boolean }, progress: Progress, signal?: AbortSignal) => Promise<{ snapshot: string; vms: Vm[] }>;

export function createFork(deps: ForkDeps): Fork {
  const { registry: reg, vmStore, vms } = deps;
  return async function fork(p, progress, signal) {
    await reg.requireAbility();
    const names = forkNames(p.name, p.count);
    const clash = names.filter((n) => vmStore.findByName(n) !== null);
    if (clash.length) throw new BangerError('already_exists', `VM ${clash.map((n) => `"${n}"`).join(', ')} already exist${clash.length === 1 ? 's' : ''}; pick another --name`);
    let snap = reg.store.findByName(p.source);
    if (!snap) {
      const vm = vmStore.findByName(p.source);
      if (!vm) throw notFound('snapshot or VM', p.source, 'run `banger snapshot list` or `banger vm list`');
      progress('fork', `snapshotting ${vm.name} first`);
      snap = reg.store.get((await deps.take({ name: vm.name, stop: false }, progress)).id)!;
    }
    const blocker = restoreBlocker(snap.spec, { accel: deps.accel, hypervisor: deps.driverName });
    if (blocker) throw conflict(`cannot fork snapshot "${snap.name}": ${blocker}`);
    const damage = snapshotDamage(snap.spec, reg.filesOf(snap.id));
    if (damage) {
      throw conflict(
        `cannot fork snapshot "${snap.name}": ${damage} in ${dirname(reg.statePath(snap.id))}; take a new one with \`banger vm snapshot VM\`, and delete this one with \`banger snapshot delete ${snap.name}\` once no VM uses it`,
      );
    }
    const src = reg.sourceOf(snap, 'fresh');
    const from = snap;
    const label = (n: string): Progress => (names.length === 1 ? progress : (stage, message) => progress(stage, `${n}: ${message ?? stage}`));
    const settled = await mapLimit(names, deps.forkParallelism, (n) =>
      vms.createFrom({ name: n, image: from.image, kernel: from.kernel, egress: p.egress, workspace: from.spec.workspace }, src, label(n), signal),
    );
    const made = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = settled.flatMap((r, i) => (r.status === 'rejected' ? [{ name: names[i], err: r.reason as Error }] : []));
    if (failed.length) {
      const first = failed[0].err;
      throw new BangerError(
        first instanceof BangerError ? first.code : 'internal',
        `fork of "${snap.name}": ${failed.map((f) => f.name).join(', ')} failed (${first.message})${made.length ? `; created ${made.map((v) => v.name).join(', ')}` : ''}`,
        { cause: first, details: { created: made.map((v) => v.name), failed: failed.map((f) => f.name) } },
      );
    }
    return { snapshot: snap.name, vms: made };
  };
}

/**
 * How many children of one fork restore at once: one per host core. A freshly restored guest keeps a
 * core busy for its first second (SSH handshake and identity step; under TCG every code path is
 * translated again), so more than the cores only time-slices them. At most 8: past that a single
 * request would start a burst of QEMUs and handshakes that delays every other request. Pure.
 */
export function forkParallelism(cores: number): number {
  return Number.isFinite(cores) ? Math.max(1, Math.min(8, Math.floor(cores))) : 1;
}

/** Runs `fn` over `items`, at most `limit` at a time; never rejects. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const out: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = { status: 'fulfilled', value: await fn(items[i]) };
      } catch (reason) {
        out[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
