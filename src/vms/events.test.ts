import { describe, expect, it } from 'vitest';
import { openDb } from '../store/db.js';
import { createVmStore } from '../store/vms.js';
import { createVmEvents, observedStore, type VmEvent } from './events.js';

const rec = (id: string, name: string) => ({
  id,
  name,
  image: 'img',
  kernel: 'k',
  vcpu: 1,
  memoryMib: 512,
  diskSizeBytes: 1 << 30,
  network: { mode: 'user' as const, egress: true, nat: false },
  state: 'stopped' as const,
  workspace: null,
});

function db() {
  const d = openDb(':memory:');
  d.prepare("INSERT INTO kernels (name, sha256, manifest, created_at) VALUES ('k', 'x', '{}', 't')").run();
  d.prepare("INSERT INTO images (name, sha256, kernel_name, manifest, created_at) VALUES ('img', 'y', 'k', '{}', 't')").run();
  return d;
}

describe('vm events', () => {
  it('every write through the observed store is published once it is written, reads are not', () => {
    const events = createVmEvents();
    const store = observedStore(createVmStore(db()), events);
    const seen: Array<VmEvent & { stateThen?: string | null }> = [];
    events.on((e) => seen.push({ ...e, stateThen: e.kind === 'changed' ? (store.get(e.id)?.state ?? null) : undefined }));
    store.insert(rec('id1', 'a'));
    store.update('id1', { state: 'starting' });
    store.update('id1', { state: 'running' });
    store.list();
    store.get('id1');
    store.remove('id1');
    expect(seen).toEqual([
      { kind: 'changed', id: 'id1', name: 'a', stateThen: 'stopped' },
      { kind: 'changed', id: 'id1', name: 'a', stateThen: 'starting' },
      { kind: 'changed', id: 'id1', name: 'a', stateThen: 'running' },
      { kind: 'removed', id: 'id1', name: 'a', stateThen: undefined },
    ]);
  });

  it('a failing listener does not fail the write or stop other listeners; unsubscribe stops delivery', () => {
    const events = createVmEvents();
    const store = observedStore(createVmStore(db()), events);
    const got: string[] = [];
    events.on(() => {
      throw new Error('listener bug');
    });
    const off = events.on((e) => got.push(e.kind));
    expect(() => store.insert(rec('id2', 'b'))).not.toThrow();
    off();
    store.update('id2', { vcpu: 2 });
    expect(got).toEqual(['changed']);
    expect(store.get('id2')?.vcpu).toBe(2);
  });
});
