/** vm.snapshot / vm.fork / snapshot.*: adapt the wire to the snapshot service. */
import type { SnapshotService } from '../snapshots/service.js';
import type { Handlers } from './dispatch.js';

type SnapshotHandlers = Pick<Handlers, 'vm.snapshot' | 'vm.fork' | 'snapshot.list' | 'snapshot.show' | 'snapshot.delete'>;

export function snapshotHandlers(snapshots: SnapshotService): SnapshotHandlers {
  return {
    'vm.snapshot': (p, ctx) => snapshots.snapshotVm({ name: p.name, snapshot: p.snapshot, stop: p.stop }, ctx.progress),
    'vm.fork': (p, ctx) => snapshots.fork(p, ctx.progress, ctx.signal),
    'snapshot.list': async () => ({ snapshots: await snapshots.list() }),
    'snapshot.show': (p) => snapshots.show(p.name),
    'snapshot.delete': (p) => snapshots.delete(p.name),
  };
}
