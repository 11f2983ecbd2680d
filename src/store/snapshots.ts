/**
 * Snapshot rows and the VM -> snapshot-layer references. A reference means "this VM's disk
 * overlay sits on that snapshot's frozen layer": the snapshot cannot be deleted while one exists.
 * A reference goes away with its VM row (ON DELETE CASCADE).
 */
import { z } from 'zod';
import { BangerError } from '../api/errors.js';
import { SnapshotKind, SnapshotSpec } from '../api/snapshot.js';
import type { Db } from './db.js';

export const SnapshotRecord = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: SnapshotKind,
    parentId: z.string().nullable(),
    sourceVm: z.string().nullable(),
    image: z.string(),
    kernel: z.string(),
    spec: SnapshotSpec,
    stateBytes: z.number().int(),
    createdAt: z.string(),
  })
  .strict();
export type SnapshotRecord = z.infer<typeof SnapshotRecord>;

interface Row {
  id: string;
  name: string;
  kind: string;
  parent_id: string | null;
  source_vm: string | null;
  image_name: string;
  kernel_name: string;
  spec: string;
  state_bytes: number;
  created_at: string;
}

const fromRow = (r: Row): SnapshotRecord =>
  SnapshotRecord.parse({
    id: r.id,
    name: r.name,
    kind: r.kind,
    parentId: r.parent_id,
    sourceVm: r.source_vm,
    image: r.image_name,
    kernel: r.kernel_name,
    spec: SnapshotSpec.parse(JSON.parse(r.spec)),
    stateBytes: r.state_bytes,
    createdAt: r.created_at,
  });

export interface SnapshotUsers {
  vms: string[];
  snapshots: string[];
}

export function createSnapshotStore(db: Db, now: () => string = () => new Date().toISOString()) {
  const byId = db.prepare<[string], Row>('SELECT * FROM snapshots WHERE id = ?');
  const byName = db.prepare<[string], Row>('SELECT * FROM snapshots WHERE name = ?');
  return {
    insert(rec: Omit<SnapshotRecord, 'createdAt'>): SnapshotRecord {
      try {
        db.prepare(
          `INSERT INTO snapshots (id, name, kind, parent_id, source_vm, image_name, kernel_name, spec, state_bytes, created_at)
           VALUES (@id, @name, @kind, @parentId, @sourceVm, @image, @kernel, @spec, @stateBytes, @t)`,
        ).run({ ...rec, spec: JSON.stringify(SnapshotSpec.parse(rec.spec)), t: now() });
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new BangerError('already_exists', `a snapshot named "${rec.name}" already exists; pick another name or delete it first`);
        }
        throw err;
      }
      return this.get(rec.id)!;
    },
    get(id: string): SnapshotRecord | null {
      const r = byId.get(id);
      return r ? fromRow(r) : null;
    },
    findByName(name: string): SnapshotRecord | null {
      const r = byName.get(name);
      return r ? fromRow(r) : null;
    },
    list(): SnapshotRecord[] {
      return db.prepare<[], Row>('SELECT * FROM snapshots ORDER BY created_at, name').all().map(fromRow);
    },
    rename(id: string, name: string): void {
      db.prepare('UPDATE snapshots SET name = ? WHERE id = ?').run(name, id);
    },
    remove(id: string): void {
      db.prepare('DELETE FROM snapshots WHERE id = ?').run(id);
    },
    /** VMs whose overlays sit on the snapshot's layer, and snapshots whose layers do. */
    usersOf(id: string): SnapshotUsers {
      const vms = db
        .prepare<[string], { name: string }>('SELECT v.name FROM vm_snapshot_refs r JOIN vms v ON v.id = r.vm_id WHERE r.snapshot_id = ? ORDER BY v.name')
        .all(id)
        .map((r) => r.name);
      const snapshots = db
        .prepare<[string], { name: string }>('SELECT name FROM snapshots WHERE parent_id = ? ORDER BY name')
        .all(id)
        .map((r) => r.name);
      return { vms, snapshots };
    },
    /** Snapshots made from an image or kernel, by kind. */
    byArtifact(column: 'image_name' | 'kernel_name', name: string): SnapshotRecord[] {
      return db.prepare<[string], Row>(`SELECT * FROM snapshots WHERE ${column} = ? ORDER BY name`).all(name).map(fromRow);
    },
    /** The snapshot layer a VM's overlay sits on (null: directly on its image). */
    refOf(vmId: string): { snapshotId: string; resume: boolean } | null {
      const r = db.prepare<[string], { snapshot_id: string; resume: number }>('SELECT snapshot_id, resume FROM vm_snapshot_refs WHERE vm_id = ?').get(vmId);
      return r ? { snapshotId: r.snapshot_id, resume: r.resume === 1 } : null;
    },
    setRef(vmId: string, snapshotId: string, resume = false): void {
      db.prepare(
        `INSERT INTO vm_snapshot_refs (vm_id, snapshot_id, resume) VALUES (?, ?, ?)
         ON CONFLICT(vm_id) DO UPDATE SET snapshot_id = excluded.snapshot_id, resume = excluded.resume`,
      ).run(vmId, snapshotId, resume ? 1 : 0);
    },
    removeRef(vmId: string): void {
      db.prepare('DELETE FROM vm_snapshot_refs WHERE vm_id = ?').run(vmId);
    },
    /** Runs fn in one transaction (a snapshot row and the VM's new reference land together). */
    transaction<T>(fn: () => T): T {
      return db.transaction(fn)();
    },
    setResume(vmId: string, resume: boolean): void {
      db.prepare('UPDATE vm_snapshot_refs SET resume = ? WHERE vm_id = ?').run(resume ? 1 : 0, vmId);
    },
    /** sha256 of a registered image or kernel (the warm snapshot key), or null. */
    artifactSha(table: 'images' | 'kernels', name: string): string | null {
      return db.prepare<[string], { sha256: string }>(`SELECT sha256 FROM ${table} WHERE name = ?`).get(name)?.sha256 ?? null;
    },
  };
}
export type SnapshotStore = ReturnType<typeof createSnapshotStore>;
