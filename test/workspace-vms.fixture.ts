/**
 * Test double for the workspace service's `vms` dependency (the WorkspaceVms seam): one VM whose
 * session is whatever the test supplies (a real SSH connection to a local sshd, or a stand-in),
 * taking the lifecycle lock exactly as VmService.session does. Not imported by production code.
 */
import { conflict, notFound } from '../src/api/errors.js';
import type { Vm, VmState, Workspace } from '../src/api/vm.js';
import type { Locks } from '../src/host/locks.js';
import type { VmRecord } from '../src/store/vms.js';
import type { GuestSession } from '../src/guest/access.js';
import type { WorkspaceVms } from '../src/workspace/service.js';

export interface TestVms extends WorkspaceVms {
  rec: VmRecord;
  state: VmState;
  /** What `vm stop` does to the lock: takes locks.vm(id), then marks the VM stopped. */
  stop(): Promise<void>;
  /** Removes the VM (as `vm delete` would, under locks.vm). */
  remove(): Promise<void>;
  sessions: number;
}

export function testVms(locks: Locks, session: () => GuestSession, name = 'web'): TestVms {
  const now = new Date().toISOString();
  let present = true;
  const t: TestVms = {
    rec: {
      id: `id-${name}`,
      name,
      image: 'img',
      kernel: 'k',
      vcpu: 1,
      memoryMib: 512,
      diskSizeBytes: 1 << 30,
      network: { mode: 'user', egress: true, nat: false },
      state: 'running',
      workspace: null,
      createdAt: now,
      updatedAt: now,
    },
    state: 'running',
    sessions: 0,
    lookup(n: string): VmRecord {
      if (n !== name || !present) throw notFound('VM', n);
      return t.rec;
    },
    view(rec: VmRecord): Vm {
      return { ...rec, state: t.state, reasons: [], pid: null, accel: null, ssh: null };
    },
    async session(n: string) {
      const rec = t.lookup(n);
      return locks.vm.with(rec.id, async () => {
        if (t.state !== 'running') throw conflict(`VM "${n}" is ${t.state}`);
        t.sessions++;
        return { rec: t.rec, session: session() };
      });
    },
    setWorkspace(id: string, ws: Workspace | null) {
      if (!present || id !== t.rec.id) throw notFound('VM', id);
      t.rec = { ...t.rec, workspace: ws };
    },
    async stop() {
      await locks.vm.with(t.rec.id, async () => {
        t.state = 'stopped';
      });
    },
    async remove() {
      await locks.vm.with(t.rec.id, async () => {
        present = false;
      });
    },
  };
  return t;
}
