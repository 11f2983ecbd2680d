/**
 * The lifecycle verbs: create (boot or warm restore), createFrom (fork child), start, stop, restart,
 * kill, delete, prune, set. Each holds vmLock(id) for its whole length; a name reservation takes the
 * global lock for milliseconds.
 */
import type { Deleted } from '../api/results.js';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { BangerError, conflict } from '../api/errors.js';
import { parseSize } from '../api/names.js';
import type { Progress } from '../api/progress.js';
import type { Vm, Workspace } from '../api/vm.js';
import { vmNetworkFor } from '../hypervisor/choice.js';
import { newId } from '../store/ids.js';
import type { VmContext, VmService } from './contracts.js';
import type { Machine } from './machine.js';
import { generateName } from './names.js';
import type { VmView } from './view.js';

type LifecycleVerbs = Pick<VmService, 'create' | 'createFrom' | 'start' | 'stop' | 'restart' | 'kill' | 'delete' | 'prune' | 'set' | 'setWorkspace'>;

const nameTaken = (name: string) =>
  new BangerError('already_exists', `a VM named "${name}" already exists; pick another name or delete it first`);

/**
 * A fork child that failed is deleted at once: its error says so, in place of the advice a kept VM
 * gets (a boot failure's `details.reason` is the part without it).
 */
export function childDeleted(name: string, err: unknown): BangerError {
  const e = err instanceof BangerError ? err : null;
  const reason = typeof e?.details?.reason === 'string' ? e.details.reason : (err as Error).message;
  return new BangerError(e?.code ?? 'internal', `${reason}; VM "${name}" was deleted, nothing of it is left`, { cause: err });
}

export function createLifecycle(ctx: VmContext, vv: VmView, m: Machine): LifecycleVerbs {
  const { paths, store, driver, locks, guest, network: net } = ctx;
  /** Runs `fn` on the VM's current record under its lock. */
  const withVm = <T>(name: string, fn: (rec: ReturnType<VmView['lookup']>) => Promise<T>): Promise<T> => {
    const { id } = vv.lookup(name);
    return locks.vm.with(id, () => fn(store.get(id) ?? vv.lookup(name)));
  };
  const current = (id: string): Vm => vv.view(store.get(id)!);
  // A restore is marked from before its row exists until its identity is refreshed: a daemon
  // crash in between leaves a VM that would run as the snapshot's guest (vms/interrupted.ts deletes it).
  const markRestoring = (id: string) => {
    mkdirSync(paths.vmDir(id), { recursive: true, mode: 0o700 });
    writeFileSync(paths.vmFile(id, 'restoring'), '');
  };
  const restored = (id: string) => rmSync(paths.vmFile(id, 'restoring'), { force: true });
  async function deleteVm(name: string, progress: Progress): Promise<Deleted> {
    // A row that cannot be read is deleted by what is known of it (id, name).
    const bad = store.findUnreadable(name);
    if (bad) {
      await locks.vm.with(bad.id, () => m.discardUnreadable(bad, progress));
      return { name, id: bad.id };
    }
    return withVm(name, async (rec) => {
      await m.discard(rec, progress);
      return { name, id: rec.id };
    });
  }

  return {
    async create(p, progress, signal) {
      // Checked before anything is built or stored: a network this host cannot give fails at once.
      const asked = vmNetworkFor(ctx.hypervisor, { mode: p.network, nat: p.nat });
      progress('hypervisor', `${ctx.hypervisor.driver}: ${ctx.hypervisor.driverReason}`);
      const resolved = await ctx.artifacts.resolve(p.image, progress);
      const id = newId();
      const defaults = ctx.config.vmDefaults;
      const requestedDisk = p.diskSize ? parseSize(p.diskSize)! : undefined;
      const diskSizeBytes = requestedDisk ?? defaults.diskSizeBytes;
      // Warm start: restore the image's post-boot snapshot instead of booting, when it fits.
      const warm =
        p.start !== false
          ? await ctx.restore.warmFor(
              { image: p.image, cold: p.cold ?? false, vcpu: p.vcpu, memoryMib: p.memoryMib, diskSizeBytes: requestedDisk, network: asked.mode, resolved },
              progress,
              signal,
            )
          : null;
      if (warm) markRestoring(id);
      const rec = await locks.global.with('names', async () => {
        const name = p.name ?? generateName((n) => store.hasName(n));
        if (store.hasName(name)) throw nameTaken(name);
        return store.insert({
          id,
          name,
          image: resolved.image.name,
          kernel: resolved.kernel.name,
          // A warm VM has exactly its snapshot's sizes (the guest saw them at the template's boot).
          vcpu: warm?.vcpu ?? p.vcpu ?? defaults.vcpu,
          memoryMib: warm?.memoryMib ?? p.memoryMib ?? defaults.memoryMib,
          diskSizeBytes: warm?.diskSizeBytes ?? diskSizeBytes,
          network: net.assign({ id, mode: asked.mode, egress: p.egress ?? true, nat: asked.nat, hostAccess: p.hostAccess }, store.list().map((r) => r.network)),
          state: 'stopped',
          workspace: null,
        });
      }).catch((err: unknown) => {
        rmSync(paths.vmDir(id), { recursive: true, force: true });
        throw err;
      });
      return locks.vm.with(rec.id, async () => {
        try {
          mkdirSync(paths.vmDir(rec.id), { recursive: true, mode: 0o700 });
          progress('disk', 'creating copy-on-write disk');
          if (warm) await ctx.restore.attach(rec.id, warm, paths.vmFile(rec.id, 'disk'), warm.diskSizeBytes);
          else await driver.disks.createDisk(resolved.image.rootfsPath, paths.vmFile(rec.id, 'disk'), diskSizeBytes, ctx.log);
        } catch (err) {
          rmSync(paths.vmDir(rec.id), { recursive: true, force: true });
          store.remove(rec.id);
          throw err;
        }
        try {
          if (p.start) await m.boot(store.get(rec.id)!, progress, p.waitForSsh, signal, warm ?? undefined);
        } finally {
          // Finished, or failed with an error the caller sees (the VM is kept, as that error says): only
          // a crash before this line leaves the marker for the next daemon start.
          restored(rec.id);
        }
        return current(rec.id);
      });
    },

    async createFrom(p, src, progress, signal) {
      ctx.artifacts.pathsFor(p.image, p.kernel); // throws if the image or kernel is gone
      const id = newId();
      markRestoring(id);
      const rec = await locks.global.with('names', async () => {
        if (store.hasName(p.name)) throw nameTaken(p.name);
        return store.insert({
          id,
          name: p.name,
          image: p.image,
          kernel: p.kernel,
          vcpu: src.vcpu,
          memoryMib: src.memoryMib,
          diskSizeBytes: src.diskSizeBytes,
          network: { mode: 'user', egress: p.egress, nat: false },
          state: 'stopped',
          workspace: p.workspace,
        });
      }).catch((err: unknown) => {
        rmSync(paths.vmDir(id), { recursive: true, force: true });
        throw err;
      });
      return locks.vm.with(rec.id, async () => {
        try {
          await ctx.restore.attach(rec.id, src, paths.vmFile(rec.id, 'disk'), src.diskSizeBytes);
          await m.boot(store.get(rec.id)!, progress, true, signal, src);
        } catch (err) {
          await m.discard(store.get(rec.id)!, progress);
          throw childDeleted(p.name, err);
        }
        restored(rec.id);
        return current(rec.id);
      });
    },

    start: (name, waitForSsh, progress, signal) =>
      withVm(name, async (rec) => {
        await m.boot(rec, progress, waitForSsh, signal);
        return current(rec.id);
      }),

    stop: (name, timeoutMs, progress) =>
      withVm(name, async (rec) => {
        await m.halt(rec, timeoutMs, progress);
        return current(rec.id);
      }),

    restart: (name, timeoutMs, progress, signal) =>
      withVm(name, async (rec) => {
        await m.halt(rec, timeoutMs, progress);
        await m.boot(store.get(rec.id)!, progress, true, signal);
        return current(rec.id);
      }),

    kill(name, signal) {
      const sig = (signal.startsWith('SIG') ? signal : `SIG${signal}`) as NodeJS.Signals;
      return withVm(name, async (rec) => {
        const l = vv.live(rec);
        if (!l.handles) throw conflict(`VM "${name}" is not running`, { state: l.state });
        guest.drop(rec.id);
        await driver.kill(l.handles, sig);
        if (!driver.isRunning(l.handles)) await m.ended(rec);
        return current(rec.id);
      });
    },

    delete: deleteVm,

    async prune(progress) {
      const victims = vv.list().filter((v) => v.state !== 'running' && v.state !== 'starting' && v.state !== 'stopping');
      for (const v of victims) await deleteVm(v.name, progress);
      return { deleted: victims.map((v) => v.name) };
    },

    set: (name, p) =>
      withVm(name, async (cur) => {
        const l = vv.live(cur);
        if (l.state !== 'stopped') throw conflict(`VM "${name}" is ${l.state}; run \`banger vm stop ${name}\` before changing it`, { state: l.state });
        if (p.nat !== undefined) net.checkNat(cur.network, p.nat, name);
        if (p.diskSizeBytes !== undefined) {
          if (p.diskSizeBytes < cur.diskSizeBytes) {
            throw new BangerError('bad_request', `disks only grow: ${name} has ${cur.diskSizeBytes} bytes; pass a larger --disk-size`);
          }
          await driver.disks.growDisk(paths.vmFile(cur.id, 'disk'), p.diskSizeBytes);
        }
        return vv.view(
          store.update(cur.id, {
            vcpu: p.vcpu ?? cur.vcpu,
            memoryMib: p.memoryMib ?? cur.memoryMib,
            diskSizeBytes: p.diskSizeBytes ?? cur.diskSizeBytes,
            network: p.nat === undefined ? cur.network : { ...cur.network, nat: p.nat },
          }),
        );
      }),

    setWorkspace(id: string, ws: Workspace | null): void {
      store.update(id, { workspace: ws });
    },
  };
}
