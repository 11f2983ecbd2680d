/**
 * The VM service: one object (`VmService`, vms/contracts.ts) assembled from modules of one job
 * each: view.ts (status, list, publish, reconcile), machine.ts (boot, halt, discard),
 * lifecycle.ts (the verbs), access.ts (session, exec, ssh, stats, auto-stop). Every dependency
 * comes in explicitly, wired by daemon/main.ts.
 */
import { createAccess } from './access.js';
import type { VmService, VmServiceDeps } from './contracts.js';
import { createLifecycle } from './lifecycle.js';
import { createInterrupted } from './interrupted.js';
import { createMachine } from './machine.js';
import { createVmView } from './view.js';
import { observedStore } from './events.js';

export type { RestoreHooks, RestoreSource, VmService, VmServiceDeps, WarmRequestInput } from './contracts.js';
export type { GuestAccess, GuestSession, GuestTarget } from '../guest/access.js';
export type { ArtifactAccess, ResolvedBoot } from '../artifacts/service.js';

export function createVmService(given: VmServiceDeps): VmService {
  // [ui] With an event bus, every write to a VM's record is published (vms/events.ts).
  const deps = given.events ? { ...given, store: observedStore(given.store, given.events) } : given;
  const view = createVmView(deps);
  const machine = createMachine(deps, view);
  return {
    lookup: view.lookup,
    view: view.view,
    requireRunning: view.requireRunning,
    list: view.list,
    show: view.show,
    publish: view.publish,
    reconcile: view.reconcile,
    reconcileNetwork: view.reconcileNetwork,
    finishInterrupted: createInterrupted(deps, view, machine),
    ...createLifecycle(deps, view, machine),
    ...createAccess(deps, view, machine),
  };
}
