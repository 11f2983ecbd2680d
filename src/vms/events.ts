/**
 * The VM service's change events: a small typed bus that every write to a VM's record publishes
 * to (created, state changed, workspace recorded, removed), so a live view (the web UI's list)
 * follows the daemon's own changes instead of polling. The bus wraps the store: every writer of
 * the VM service goes through it without knowing.
 */
import type { VmStore } from '../store/vms.js';

export type VmEvent = { kind: 'changed' | 'removed'; id: string; name: string };

export interface VmEvents {
  emit(e: VmEvent): void;
  /** Calls `fn` for every event from now on; returns the unsubscribe function. */
  on(fn: (e: VmEvent) => void): () => void;
}

export function createVmEvents(): VmEvents {
  const listeners = new Set<(e: VmEvent) => void>();
  return {
    emit(e) {
      for (const fn of [...listeners]) {
        try {
          fn(e);
        } catch {
          // a listener's failure is its own; the VM operation that emitted goes on
        }
      }
    },
    on(fn) {
      listeners.add(fn);
      return () => void listeners.delete(fn);
    },
  };
}

/** The same store, publishing each insert, update and remove to `events` once it is written. */
export function observedStore(store: VmStore, events: VmEvents): VmStore {
  return {
    ...store,
    insert(rec) {
      const r = store.insert(rec);
      events.emit({ kind: 'changed', id: r.id, name: r.name });
      return r;
    },
    update(id, patch) {
      const r = store.update(id, patch);
      events.emit({ kind: 'changed', id, name: r.name });
      return r;
    },
    remove(id) {
      const name = store.entries().find((e) => (e.ok ? e.rec.id : e.bad.id) === id);
      store.remove(id);
      events.emit({ kind: 'removed', id, name: name ? (name.ok ? name.rec.name : name.bad.name) : id });
    },
  };
}
