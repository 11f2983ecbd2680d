/**
 * The snapshot service (`vm snapshot`, `vm fork`, `snapshot list/show/delete`, start-up recovery),
 * assembled from registry.ts, take.ts and fork.ts. The restore half (restore.ts, warmcache.ts) is
 * built before the VM service, which takes it as its restore hooks; this half is built after, with
 * the VM service. daemon/main.ts wires both.
 */
import type { Accel } from '../api/enums.js';
import type { Progress } from '../api/progress.js';
import type { Snapshot } from '../api/snapshot.js';
import type { Vm } from '../api/vm.js';
import type { GuestAccess } from '../guest/access.js';
import type { Locks } from '../host/locks.js';
import type { Logger } from '../host/logger.js';
import type { Driver } from '../hypervisor/driver.js';
import type { Paths } from '../store/paths.js';
import type { VmStore } from '../store/vms.js';
import type { VmService } from '../vms/contracts.js';
import { createFork } from './fork.js';
import type { SnapshotRegistry } from './registry.js';
import { createTake } from './take.js';

export interface SnapshotService {
  snapshotVm(p: { name: string; snapshot?: string; stop: boolean }, progress: Progress): Promise<Snapshot>;
  fork(p: { source: string; name: string; count: number; egress: boolean }, progress: Progress, signal?: AbortSignal): Promise<{ snapshot: string; vms: Vm[] }>;
  list(): Promise<Snapshot[]>;
  show(name: string): Promise<Snapshot>;
  delete(name: string): Promise<{ name: string; id: string }>;
  recover: SnapshotRegistry['recover'];
}

export interface SnapshotServiceDeps {
  registry: SnapshotRegistry;
  paths: Paths;
  vmStore: Pick<VmStore, 'get' | 'findByName'>;
  vms: Pick<VmService, 'lookup' | 'requireRunning' | 'kill' | 'createFrom'>;
  driver: Driver;
  driverName: string;
  accel: Accel;
  locks: Locks;
  guest: GuestAccess;
  log: Logger;
  /** How many fork children are restored at once. */
  forkParallelism: number;
}

export function createSnapshotService(deps: SnapshotServiceDeps): SnapshotService {
  const reg = deps.registry;
  const take = createTake(deps);
  return {
    snapshotVm: take,
    fork: createFork({ ...deps, take }),
    list: () => reg.list(),
    show: (name) => reg.show(name),
    delete: (name) => reg.delete(name),
    recover: () => reg.recover(),
  };
}
