/** VM rows: durable intent and identity. Live facts (pid, ports) are not stored here. */
import { z } from 'zod';
import { BangerError } from '../api/errors.js';
import { Vm, VmNetwork, Workspace } from '../api/vm.js';
import type { Db } from './db.js';

export const VmRecord = Vm.pick({
  id: true,
  name: true,
  image: true,
  kernel: true,
  vcpu: true,
  memoryMib: true,
  diskSizeBytes: true,
  network: true,
  state: true,
  workspace: true,
  createdAt: true,
  updatedAt: true,
});
export type VmRecord = z.infer<typeof VmRecord>;

interface Row {
  id: string;
  name: string;
  image_name: string;
  kernel_name: string;
  vcpu: number;
  memory_mib: number;
  disk_size_bytes: number;
  network: string;
  state: string;
  workspace: string | null;
  created_at: string;
  updated_at: string;
}

/**
 * A row that does not parse (e.g. written by older code with a size the schema now refuses): it is
 * shown as a broken VM and can be deleted, and never fails a list or the daemon's start.
 */
export interface UnreadableVm {
  id: string;
  name: string;
  image: string;
  kernel: string;
  createdAt: string;
  updatedAt: string;
  /** Why it cannot be read. */
  reason: string;
  /** The stored network, when that part parses (bridge mode's tap and rules are released with it). */
  network: VmRecord['network'] | null;
}

type Read = { ok: true; rec: VmRecord } | { ok: false; bad: UnreadableVm };

function readRow(r: Row): Read {
  try {
    return { ok: true, rec: fromRow(r) };
  } catch (err) {
    const issue = err instanceof z.ZodError ? err.issues[0] : undefined;
    const reason = issue ? `${issue.path.join('.') || 'record'}: ${issue.message}` : (err as Error).message;
    let network: VmRecord['network'] | null = null;
    try {
      network = VmNetwork.parse(JSON.parse(r.network));
    } catch {
      // unreadable too
    }
    const str = (v: unknown) => (typeof v === 'string' ? v : String(v));
    return {
      ok: false,
      bad: { id: str(r.id), name: str(r.name), image: str(r.image_name), kernel: str(r.kernel_name), createdAt: str(r.created_at), updatedAt: str(r.updated_at), reason, network },
    };
  }
}

/** The refusal for an operation on an unreadable row (only `vm delete` handles one). */
function unreadableError(b: UnreadableVm): BangerError {
  return new BangerError('conflict', `the stored record of VM "${b.name}" cannot be read (${b.reason}); delete it with \`banger vm delete ${b.name}\``, {
    details: { state: 'broken' },
  });
}

function parsed(r: Row): VmRecord {
  const x = readRow(r);
  if (!x.ok) throw unreadableError(x.bad);
  return x.rec;
}

function fromRow(r: Row): VmRecord {
  return VmRecord.parse({
    id: r.id,
    name: r.name,
    image: r.image_name,
    kernel: r.kernel_name,
    vcpu: r.vcpu,
    memoryMib: r.memory_mib,
    diskSizeBytes: r.disk_size_bytes,
    network: VmNetwork.parse(JSON.parse(r.network)),
    state: r.state,
    workspace: r.workspace ? Workspace.parse(JSON.parse(r.workspace)) : null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  });
}

export type VmPatch = Partial<Omit<VmRecord, 'id' | 'createdAt' | 'updatedAt'>>;

export function createVmStore(db: Db, now: () => string = () => new Date().toISOString()) {
  const byName = db.prepare<[string], Row>('SELECT * FROM vms WHERE name = ?');
  const byId = db.prepare<[string], Row>('SELECT * FROM vms WHERE id = ?');
  return {
    insert(rec: Omit<VmRecord, 'createdAt' | 'updatedAt'>): VmRecord {
      const t = now();
      try {
        db.prepare(
          `INSERT INTO vms (id, name, image_name, kernel_name, vcpu, memory_mib, disk_size_bytes, network, state, workspace, created_at, updated_at)
           VALUES (@id, @name, @image, @kernel, @vcpu, @memoryMib, @diskSizeBytes, @network, @state, @workspace, @t, @t)`,
        ).run({ ...rec, network: JSON.stringify(rec.network), workspace: rec.workspace ? JSON.stringify(rec.workspace) : null, t });
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new BangerError('already_exists', `a VM named "${rec.name}" already exists; pick another name or delete it first`);
        }
        throw err;
      }
      return this.get(rec.id)!;
    },
    /** The VM's record; a conflict (with the delete hint) when its row cannot be read. */
    get(id: string): VmRecord | null {
      const r = byId.get(id);
      return r ? parsed(r) : null;
    },
    /** The VM's record; a conflict (with the delete hint) when its row cannot be read. */
    findByName(name: string): VmRecord | null {
      const r = byName.get(name);
      return r ? parsed(r) : null;
    },
    /** Whether a row (readable or not) holds this name. */
    hasName(name: string): boolean {
      return byName.get(name) !== undefined;
    },
    /** The row of this name when it cannot be read, else null. */
    findUnreadable(name: string): UnreadableVm | null {
      const r = byName.get(name);
      if (!r) return null;
      const x = readRow(r);
      return x.ok ? null : x.bad;
    },
    /** Every readable VM (unreadable rows: `entries`, `findUnreadable`). */
    list(): VmRecord[] {
      return this.entries().flatMap((e) => (e.ok ? [e.rec] : []));
    },
    /** Every row, readable or not, in creation order. */
    entries(): Read[] {
      return db.prepare<[], Row>('SELECT * FROM vms ORDER BY created_at, name').all().map(readRow);
    },
    update(id: string, patch: VmPatch): VmRecord {
      const cur = this.get(id);
      if (!cur) throw new BangerError('not_found', `VM ${id} not found`);
      const next = { ...cur, ...patch };
      db.prepare(
        `UPDATE vms SET name=@name, image_name=@image, kernel_name=@kernel, vcpu=@vcpu, memory_mib=@memoryMib,
           disk_size_bytes=@diskSizeBytes, network=@network, state=@state, workspace=@workspace, updated_at=@t WHERE id=@id`,
      ).run({
        ...next,
        network: JSON.stringify(next.network),
        workspace: next.workspace ? JSON.stringify(next.workspace) : null,
        t: now(),
      });
      return this.get(id)!;
    },
    remove(id: string): void {
      db.prepare('DELETE FROM vms WHERE id = ?').run(id);
    },
    /** Names of VMs that use an image or kernel (to refuse deleting them). */
    usersOf(column: 'image_name' | 'kernel_name', name: string): string[] {
      return db
        .prepare<[string], { name: string }>(`SELECT name FROM vms WHERE ${column} = ? ORDER BY name`)
        .all(name)
        .map((r) => r.name);
    },
  };
}
export type VmStore = ReturnType<typeof createVmStore>;
