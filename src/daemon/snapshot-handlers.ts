/**
 * vm.snapshot / vm.fork / snapshot.*: adapt the wire to the snapshot service. Also wraps
 * image.delete and kernel.delete so snapshots made from an artifact guard it (and unused warm
 * snapshots of it are dropped) before the artifact service deletes it.
 */
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

/** image.delete / kernel.delete (and image.import --force, which replaces an image) with the snapshot guard in front. */
export function guardArtifactDeletes(
  snapshots: SnapshotService,
  inner: Pick<Handlers, 'image.delete' | 'kernel.delete' | 'image.import'>,
): Pick<Handlers, 'image.delete' | 'kernel.delete' | 'image.import'> {
  return {
    'image.import': (p, ctx) => {
      if (p.force) snapshots.beforeArtifactDelete('image', p.name);
      return inner['image.import'](p, ctx);
    },
    'image.delete': (p, ctx) => {
      snapshots.beforeArtifactDelete('image', p.name);
      return inner['image.delete'](p, ctx);
    },
    'kernel.delete': (p, ctx) => {
      snapshots.beforeArtifactDelete('kernel', p.name);
      return inner['kernel.delete'](p, ctx);
    },
  };
}
