/**
 * How VMs look from outside: a VM's record plus live facts (handles.json, is the process ours and
 * alive; `vms/inspect.ts` decides the state), unreadable rows shown as broken VMs, the DNS/ssh_config
 * publication that follows every change, and the daemon-start reconcile built on the same facts.
 */
import { conflict, notFound } from '../api/errors.js';
import type { Vm, VmState } from '../api/vm.js';
import type { ReconcileReport } from '../network/vmnet.js';
import { inspectHandles, removeHandles, type Handles } from '../store/handles.js';
import type { UnreadableVm, VmRecord } from '../store/vms.js';
import type { VmContext } from './contracts.js';
import { deriveState } from './inspect.js';

export interface Live {
  state: VmState;
  reasons: string[];
  /** The handles of a live process, else null. */
  handles: Handles | null;
}

export interface VmView {
  lookup(name: string): VmRecord;
  live(rec: VmRecord): Live;
  /** The handles of the VM's process when it runs (for a row that cannot be read too), else null. */
  runningHandles(id: string): Handles | null;
  view(rec: VmRecord): Vm;
  requireRunning(rec: VmRecord): Handles;
  list(): Vm[];
  show(name: string): Vm;
  publish(): Promise<void>;
  reconcile(): { adopted: string[]; stopped: string[]; broken: string[] };
  reconcileNetwork(): Promise<ReconcileReport>;
}

/** An unreadable row as clients see it: state `broken`, the reason, nothing live. */
export function unreadableView(b: UnreadableVm): Vm {
  return {
    id: b.id,
    name: b.name,
    image: b.image,
    kernel: b.kernel,
    vcpu: 0,
    memoryMib: 0,
    diskSizeBytes: 0,
    network: b.network ?? { mode: 'user', egress: false, nat: false },
    state: 'broken',
    reasons: [`its stored record cannot be read (${b.reason}); delete it with \`banger vm delete ${b.name}\``],
    pid: null,
    accel: null,
    ssh: null,
    workspace: null,
    createdAt: b.createdAt,
    updatedAt: b.updatedAt,
  };
}

export function createVmView(ctx: VmContext): VmView {
  const { paths, store, driver, log } = ctx;

  function lookup(name: string): VmRecord {
    const rec = store.findByName(name);
    if (!rec) throw notFound('VM', name, 'run `banger vm list` to see VMs');
    return rec;
  }

  function facts(rec: VmRecord) {
    const { handles, problem } = inspectHandles(paths.vmFile(rec.id, 'handles'));
    const alive = handles ? driver.isRunning(handles) : false;
    return { handles, alive, derived: deriveState(rec.state, { hasHandles: handles !== null, processAlive: alive, handlesProblem: problem }), problem };
  }

  function live(rec: VmRecord): Live {
    const f = facts(rec);
    return { state: f.derived.state, reasons: f.derived.reasons, handles: f.alive ? f.handles : null };
  }

  function view(rec: VmRecord): Vm {
    const l = live(rec);
    return {
      ...rec,
      state: l.state,
      reasons: l.reasons,
      pid: l.handles?.pid ?? null,
      accel: l.handles?.accel ?? null,
      ssh: l.handles ? l.handles.ssh : null,
      ...ctx.activity.describe(rec, l.state === 'running'), // [config: auto_stop]
    };
  }

  function requireRunning(rec: VmRecord): Handles {
    const l = live(rec);
    if (l.state !== 'running' || !l.handles) {
      throw conflict(`VM "${rec.name}" is ${l.state}; run \`banger vm start ${rec.name}\` first`, { state: l.state });
    }
    return l.handles;
  }

  /** DNS records and ssh_config follow every lifecycle change. */
  const publish = (): Promise<void> => {
    try {
      return ctx.network.publish(store.list().map(view));
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not publish VM names');
      return Promise.resolve();
    }
  };

  return {
    lookup,
    live,
    runningHandles(id) {
      const { handles } = inspectHandles(paths.vmFile(id, 'handles'));
      return handles && driver.isRunning(handles) ? handles : null;
    },
    view,
    requireRunning,
    list: () => store.entries().map((e) => (e.ok ? view(e.rec) : unreadableView(e.bad))),
    show(name) {
      const bad = store.findUnreadable(name);
      return bad ? unreadableView(bad) : view(lookup(name));
    },
    publish,
    reconcileNetwork: () => ctx.network.reconcile(store.list().filter((r) => live(r).state === 'running')),

    reconcile() {
      const adopted: string[] = [];
      const stopped: string[] = [];
      const broken: string[] = [];
      for (const e of store.entries()) {
        if (!e.ok) {
          log.warn({ vm: e.bad.name, id: e.bad.id, reason: e.bad.reason }, 'VM record unreadable: shown as broken');
          broken.push(e.bad.name);
          continue;
        }
        const rec = e.rec;
        const f = facts(rec);
        if (f.alive) {
          if (rec.state !== 'running') store.update(rec.id, { state: 'running' });
          adopted.push(rec.name);
        } else if (f.derived.action === 'mark-broken' || (f.problem && rec.state === 'broken')) {
          // The file stays (it may help whoever looks); stop, start or delete replace it.
          if (rec.state !== 'broken') store.update(rec.id, { state: 'broken' });
          log.warn({ vm: rec.name, reason: f.problem }, 'VM handles unreadable: marked broken');
          broken.push(rec.name);
        } else {
          if (f.handles) removeHandles(paths.vmFile(rec.id, 'handles'));
          if (f.derived.action === 'mark-stopped' || rec.state !== 'stopped') {
            store.update(rec.id, { state: 'stopped' });
            stopped.push(rec.name);
          }
        }
      }
      return { adopted, stopped, broken };
    },
  };
}
