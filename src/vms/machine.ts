/**
 * One VM's machine: boot (or restore) it until the guest is reachable and set up, halt it
 * (guest poweroff, ACPI, kill), clean up after its process ended, and discard every trace of it.
 * Callers hold the VM's lock (vms/lifecycle.ts, vms/access.ts).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { BangerError } from '../api/errors.js';
import type { Progress } from '../api/progress.js';
import type { GuestSession } from '../guest/access.js';
import { aliasFor } from '../guest/knownhosts.js';
import type { VmHandles } from '../hypervisor/driver.js';
import { removeHandles, writeHandles, type Handles } from '../store/handles.js';
import type { UnreadableVm, VmRecord } from '../store/vms.js';
import { buildBootArgs } from '../hypervisor/bootargs.js';
import type { RestoreSource, VmContext } from './contracts.js';
import { syncFiles } from './filesync.js';
import type { VmView } from './view.js';

export interface Machine {
  /** Starts (or restores) the VM unless it runs; with waitForSsh (forced for restores and file_sync) returns once the guest is ready. */
  boot(rec: VmRecord, progress: Progress, waitForSsh: boolean, signal?: AbortSignal, from?: RestoreSource): Promise<void>;
  /** Stops the VM: poweroff in the guest, then ACPI, then SIGKILL, within `timeoutMs`. */
  halt(rec: VmRecord, timeoutMs: number, progress: Progress): Promise<void>;
  /** After the VM's process ended (vm kill): drop handles and runtime files, mark stopped, release the network. */
  ended(rec: VmRecord): Promise<void>;
  /** Removes every trace of a VM (process, tap/rules, files, sockets, host key, row). */
  discard(rec: VmRecord, progress: Progress): Promise<void>;
  /** The same for a row that cannot be read (only its id, name and, when readable, network are known). */
  discardUnreadable(b: UnreadableVm, progress: Progress): Promise<void>;
}

export function createMachine(ctx: VmContext, vv: VmView): Machine {
  const { paths, store, driver, guest, log, network: net } = ctx;

  async function boot(rec: VmRecord, progress: Progress, waitForSsh: boolean, signal?: AbortSignal, from?: RestoreSource): Promise<void> {
    const l = vv.live(rec);
    if (l.state === 'running') return;
    const restore = from ?? ctx.restore.resumeFor(rec, progress) ?? undefined;
    // A restored guest gets its identity refreshed over SSH before anyone uses it; file_sync needs SSH too.
    if (restore || ctx.fileSync.length > 0) waitForSsh = true;
    const boot = ctx.artifacts.pathsFor(rec.image, rec.kernel);
    const prepared = await net.prepare(rec, progress);
    if (prepared.network !== rec.network) store.update(rec.id, { network: prepared.network });
    const runtimeDir = paths.vmRuntimeDir(rec.id);
    mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
    const cmdline = buildBootArgs({
      hostname: rec.name,
      sshKeyBlob: await guest.publicKeyBlob(),
      net: prepared.boot,
      accel: ctx.accel,
    });
    store.update(rec.id, { state: 'starting' });
    progress('boot', restore ? `restoring ${restore.label} (${ctx.driverName}, ${ctx.accel})` : `starting ${ctx.driverName} (${ctx.accel})`);
    let h: VmHandles;
    try {
      h = await driver.start(
        {
          id: rec.id,
          name: rec.name,
          vcpu: rec.vcpu,
          memoryMib: rec.memoryMib,
          kernelPath: boot.kernel.vmlinuxPath,
          initrdPath: boot.kernel.initrdPath,
          cmdline,
          diskPath: paths.vmFile(rec.id, 'disk'),
          diskFormat: 'qcow2',
          serialLogPath: paths.vmFile(rec.id, 'serial'),
          logPath: paths.vmFile(rec.id, 'hypervisorLog'),
          runtimeDir,
          accel: ctx.accel,
          // A restored NIC announces its configured MAC: it must be the one the saved guest answers to.
          network: restore?.nicMac && prepared.spec.mode === 'user' ? { ...prepared.spec, mac: restore.nicMac } : prepared.spec,
          ...(restore ? { restoreFrom: restore.statePath, ...(restore.memoryPath ? { restoreMemoryFrom: restore.memoryPath } : {}) } : {}),
          // A boot gets the bulk channel; a restore only when the saved VM had it (old snapshots did not).
          bulkChannel: restore ? restore.bulkChannel === true : true,
        },
        log.child({ vm: rec.name }),
      );
    } catch (err) {
      store.update(rec.id, { state: 'stopped' });
      await net.release(rec);
      throw err;
    }
    const handles: Handles = { ...h, driver: ctx.driverName, ssh: prepared.ssh, forwards: prepared.forwards };
    writeHandles(paths.vmFile(rec.id, 'handles'), handles);
    store.update(rec.id, { state: 'running' });
    ctx.activity.touch(rec.id); // [config: auto_stop] a start is a use
    void vv.publish();
    if (!waitForSsh) return;
    progress('ssh', 'waiting for SSH');
    let session: GuestSession;
    try {
      session = await guest.open({ vmId: rec.id, alias: aliasFor(rec.name), ...prepared.ssh }, { timeoutMs: ctx.sshTimeoutMs, signal });
      // The disk may be larger than the image's file system (vm create/set --disk-size): grow it online.
      // (A restored guest's disk has the size its snapshot saw, already grown.)
      if (!restore) await session.run(['sh', '-c', 'resize2fs /dev/vda >/dev/null 2>&1 || true'], { timeoutMs: 60_000 });
    } catch (err) {
      if (err instanceof BangerError && err.code === 'conflict') throw err; // host key mismatch: say so as is
      const reason = `VM "${rec.name}" started but SSH did not answer within ${Math.round(ctx.sshTimeoutMs / 1000)}s`;
      throw new BangerError('unavailable', `${reason}; the VM is kept: see \`banger vm logs ${rec.name}\`, then \`banger vm delete ${rec.name}\``, {
        cause: err,
        details: { reason },
      });
    }
    if (restore) {
      try {
        await ctx.restore.refresh(session, { id: rec.id, name: rec.name }, restore, progress);
      } catch (err) {
        const reason = `VM "${rec.name}" was restored from ${restore.label} but its identity could not be refreshed (${(err as Error).message})`;
        throw new BangerError('internal', `${reason}; it still shares the snapshot's identity: delete it with \`banger vm delete ${rec.name}\``, {
          cause: err,
          details: { reason },
        });
      }
    }
    // [config: file_sync] every start (boot, restart, restore) ends here with the guest reachable.
    await syncFiles(session, ctx.fileSync, rec.name, progress);
    ctx.activity.touch(rec.id); // [config: auto_stop] ready now: the idle time counts from here
  }

  async function halt(rec: VmRecord, timeoutMs: number, progress: Progress): Promise<void> {
    const l = vv.live(rec);
    if (!l.handles) {
      removeHandles(paths.vmFile(rec.id, 'handles'));
      if (rec.state !== 'stopped') store.update(rec.id, { state: 'stopped' });
      await net.release(rec); // it may have died on its own, leaving its tap
      void vv.publish();
      return;
    }
    const h = l.handles;
    store.update(rec.id, { state: 'stopping' });
    const deadline = Date.now() + timeoutMs;
    // 1. In the guest: flush and power off. The command may be cut off by the shutdown itself.
    progress('stop', 'poweroff in the guest');
    try {
      const s = await guest.open({ vmId: rec.id, alias: aliasFor(rec.name), ...h.ssh }, { timeoutMs: Math.min(5000, timeoutMs / 3) });
      await s.run(['sh', '-c', 'sync; (sleep 0.2; systemctl poweroff || poweroff -f) >/dev/null 2>&1 &'], { timeoutMs: 5000 }).catch(() => undefined);
    } catch (err) {
      log.info({ vm: rec.name, err: (err as Error).message }, 'guest poweroff unavailable');
    }
    guest.drop(rec.id);
    let exited = await waitExit(h, Math.max(0, Math.min(deadline - Date.now(), (timeoutMs * 2) / 3)));
    // 2. ACPI power-down, 3. kill.
    if (!exited) {
      progress('stop', 'ACPI power-down');
      exited = await driver.requestPowerOff(h, Math.max(1000, deadline - Date.now())).catch(() => false);
    }
    if (!exited) {
      progress('stop', 'killing the hypervisor');
      await driver.kill(h, 'SIGKILL');
    }
    await ended(rec);
  }

  async function ended(rec: VmRecord): Promise<void> {
    removeHandles(paths.vmFile(rec.id, 'handles'));
    rmSync(paths.vmRuntimeDir(rec.id), { recursive: true, force: true });
    store.update(rec.id, { state: 'stopped' });
    await net.release(store.get(rec.id) ?? rec);
    void vv.publish();
  }

  async function removeTraces(id: string, name: string): Promise<void> {
    rmSync(paths.vmDir(id), { recursive: true, force: true });
    rmSync(paths.vmRuntimeDir(id), { recursive: true, force: true });
    await guest.forget(aliasFor(name)).catch(() => undefined);
    store.remove(id);
    void vv.publish();
  }

  async function discard(rec: VmRecord, progress: Progress): Promise<void> {
    const l = vv.live(rec);
    if (l.handles) {
      progress('delete', 'stopping the VM');
      await driver.kill(l.handles, 'SIGKILL').catch(() => undefined);
    }
    guest.drop(rec.id);
    await net.release(rec);
    await removeTraces(rec.id, rec.name);
  }

  async function discardUnreadable(b: UnreadableVm, progress: Progress): Promise<void> {
    // Its handles may still be readable: end its process rather than leak it.
    const h = vv.runningHandles(b.id);
    if (h) {
      progress('delete', 'stopping the VM');
      await driver.kill(h, 'SIGKILL').catch(() => undefined);
    }
    guest.drop(b.id);
    // release reads the id, name and network only.
    if (b.network) await net.release({ id: b.id, name: b.name, network: b.network } as VmRecord);
    await removeTraces(b.id, b.name);
  }

  async function waitExit(h: VmHandles, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (!driver.isRunning(h)) return true;
      await new Promise((r) => setTimeout(r, 200));
    }
    return !driver.isRunning(h);
  }

  return { boot, halt, ended, discard, discardUnreadable };
}
