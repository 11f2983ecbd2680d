import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SnapshotSpec } from '../api/snapshot.js';
import { createArtifactStore } from './artifacts.js';
import { openDb } from './db.js';
import { createSnapshotStore } from './snapshots.js';
import { createVmStore } from './vms.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function setup() {
  const d = mkdtempSync(join(tmpdir(), 'banger-snapdb-'));
  dirs.push(d);
  const db = openDb(join(d, 'banger.db'));
  createArtifactStore(db, 'kernels', (x) => x).put('k', 'a'.repeat(64), {});
  createArtifactStore(db, 'images', (x) => x).put('img', 'b'.repeat(64), {}, { kernel_name: 'k' });
  const vms = createVmStore(db);
  const addVm = (id: string, name: string) =>
    vms.insert({ id, name, image: 'img', kernel: 'k', vcpu: 1, memoryMib: 512, diskSizeBytes: 1, network: { mode: 'user', egress: true, nat: false }, state: 'stopped', workspace: null });
  return { db, vms, addVm, snaps: createSnapshotStore(db) };
}

const spec: SnapshotSpec = { vcpu: 1, memoryMib: 512, diskSizeBytes: 1, accel: 'tcg', hypervisor: 'qemu', hypervisorVersion: '7.2', network: 'user', workspace: null };
const snap = (id: string, name: string, parentId: string | null = null) => ({
  id,
  name,
  kind: 'user' as const,
  parentId,
  sourceVm: 'web',
  image: 'img',
  kernel: 'k',
  spec,
  stateBytes: 10,
});

describe('snapshot store', () => {
  it('stores snapshots with unique names and reads them back', () => {
    const { snaps } = setup();
    const s = snaps.insert(snap('s1', 'one'));
    expect(s).toMatchObject({ id: 's1', name: 'one', kind: 'user', spec, stateBytes: 10 });
    expect(snaps.findByName('one')?.id).toBe('s1');
    expect(() => snaps.insert(snap('s2', 'one'))).toThrow(/a snapshot named "one" already exists/);
    snaps.rename('s1', 'warm:x:stale-s1');
    expect(snaps.findByName('one')).toBeNull();
    expect(snaps.list().map((x) => x.name)).toEqual(['warm:x:stale-s1']);
  });

  it('tracks which VMs and snapshots sit on a layer; a VM reference goes with its VM row', () => {
    const { snaps, vms, addVm } = setup();
    snaps.insert(snap('s1', 'base'));
    snaps.insert(snap('s2', 'child', 's1'));
    addVm('v1', 'web');
    addVm('v2', 'fork-1');
    snaps.setRef('v1', 's1');
    snaps.setRef('v2', 's1', true);
    expect(snaps.usersOf('s1')).toEqual({ vms: ['fork-1', 'web'], snapshots: ['child'] });
    expect(snaps.refOf('v2')).toEqual({ snapshotId: 's1', resume: true });
    // a later snapshot of v1 moves its reference
    snaps.setRef('v1', 's2');
    expect(snaps.refOf('v1')).toEqual({ snapshotId: 's2', resume: false });
    snaps.setResume('v2', false);
    expect(snaps.refOf('v2')?.resume).toBe(false);
    vms.remove('v2');
    expect(snaps.usersOf('s1')).toEqual({ vms: [], snapshots: ['child'] });
    expect(snaps.refOf('v2')).toBeNull();
    // the foreign key backs the code's own refusal
    expect(() => snaps.remove('s2')).toThrow(/FOREIGN KEY/);
  });

  it('finds snapshots by the image or kernel they came from, and artifact hashes', () => {
    const { snaps } = setup();
    snaps.insert(snap('s1', 'one'));
    expect(snaps.byArtifact('image_name', 'img').map((s) => s.id)).toEqual(['s1']);
    expect(snaps.byArtifact('kernel_name', 'other')).toEqual([]);
    expect(snaps.artifactSha('images', 'img')).toBe('b'.repeat(64));
    expect(snaps.artifactSha('kernels', 'nope')).toBeNull();
  });
});
