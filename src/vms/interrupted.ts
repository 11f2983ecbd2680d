/**
 * At daemon start, after reconcile: what a daemon crash cut short. A VM whose restore (warm create
 * or fork child) never finished still has its `restoring` marker: it never got its own identity (it
 * would run as the snapshot's guest) and the command that made it failed, so it is deleted, its
 * hypervisor too even when the crash came before its handles were written. Every VM found running
 * gets the driver's `recover` (a save cut short leaves the VM paused and a converter behind).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { noProgress } from '../api/progress.js';
import { isZombie, pidsMentioning, readStat } from '../host/procstat.js';
import type { VmContext } from './contracts.js';
import type { Machine } from './machine.js';
import type { VmView } from './view.js';

export interface Interrupted {
  /** Unfinished restores deleted. */
  discarded: string[];
  /** Running VMs the driver put right, with what it did. */
  recovered: Array<{ vm: string; done: string[] }>;
}

async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const st = readStat(pid);
    if (!st || isZombie(st)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function createInterrupted(ctx: VmContext, vv: VmView, m: Machine): () => Promise<Interrupted> {
  const { paths, store, driver, locks, log } = ctx;
  const unfinished = (id: string) => existsSync(paths.vmFile(id, 'restoring'));

  /** Ends hypervisor processes of this VM that no handles.json names (spawned just before the crash). */
  async function killStrays(id: string): Promise<void> {
    for (const pid of pidsMentioning(`${paths.vmRuntimeDir(id)}/`)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
      await waitGone(pid);
    }
  }

  return async function finishInterrupted() {
    const out: Interrupted = { discarded: [], recovered: [] };
    for (const rec of store.list()) {
      await locks.vm.with(rec.id, async () => {
        const cur = store.get(rec.id);
        if (!cur) return;
        if (unfinished(cur.id)) {
          await m.discard(cur, noProgress);
          await killStrays(cur.id);
          out.discarded.push(cur.name);
          return;
        }
        const h = vv.live(cur).handles;
        if (!h || !driver.snapshots?.recover) return;
        const done = await driver.snapshots.recover(h).catch((err: Error) => [`could not recover it: ${err.message}`]);
        if (done.length) out.recovered.push({ vm: cur.name, done });
      });
    }
    // A crash between the marker and the row leaves a directory nothing refers to.
    if (existsSync(paths.vmsDir)) {
      const rows = new Set(store.entries().map((e) => (e.ok ? e.rec.id : e.bad.id)));
      for (const id of readdirSync(paths.vmsDir)) {
        if (rows.has(id) || !unfinished(id)) continue;
        await killStrays(id);
        rmSync(paths.vmDir(id), { recursive: true, force: true });
        rmSync(paths.vmRuntimeDir(id), { recursive: true, force: true });
      }
    }
    if (out.discarded.length) log.warn({ vms: out.discarded }, 'restores cut short by a daemon crash: VMs deleted');
    return out;
  };
}
