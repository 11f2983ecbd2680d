/**
 * What banger does to a running QEMU over QMP, beside starting and stopping it: save its state
 * (migration to a file), pause and resume, switch its disk, and add or remove port forwards on
 * slirp user networking. The driver (driver.ts) builds these over its own process checks.
 */
import { chmod, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BangerError, notFound } from '../../api/errors.js';
import type { Logger } from '../../host/logger.js';
import type { PortForwarder, SnapshotManager, VmHandles } from '../driver.js';
import { DISK_ID, hostfwdRule, NETDEV_ID, type QemuMachine } from './args.js';
import { type ConvertDeps, convertible, convertState, copyRamOut, endConverter, type QemuMemoryFacts } from './convert.js';
import type { PasstHandle } from './passt.js';
import { withQmp } from './qmp.js';
import { filesOpenForWriting } from './process.js';
import { parseDiskInfo } from './disk.js';
import { run } from '../../host/exec.js';
import { writeState } from './savestate.js';

export { MIGRATE_MAX_BANDWIDTH, POLL_MS, sleep, waitForMigration } from './savestate.js';

/** Why a running passt-networked VM takes no forward change (refused before anything is stored). */
export const LIVE_FORWARD_PASST =
  "this VM's network (passt, which keeps the guest off the host's 127.0.0.1) takes port forwards at start only: stop the VM, run `banger vm forward` again, then start it (VMs created with --host-access or --no-egress use QEMU's slirp, which forwards live)";

export interface LiveOpsDeps {
  isRunning(h: VmHandles): boolean;
  passtOf(h: VmHandles): PasstHandle | undefined;
  saveTimeoutMs: number;
  log: Logger;
  /** Starting a RAM converter (convert.ts). */
  convert: Omit<ConvertDeps, 'saveTimeoutMs' | 'log'>;
  machine: QemuMachine;
}

export function createLiveOps(deps: LiveOpsDeps): { snapshots: SnapshotManager; ports: PortForwarder } {
  const { isRunning, passtOf, saveTimeoutMs } = deps;
  const opts = { log: deps.log };
const requireRunning = (h: VmHandles, what: string) => {
  if (!isRunning(h)) throw new BangerError('conflict', `cannot ${what}: the VM's QEMU process (pid ${h.pid}) is not running`);
};

const snapshots: SnapshotManager = {
  async saveState(h, statePath, memoryPath) {
    requireRunning(h, 'save its state');
    const q = h as VmHandles & QemuMemoryFacts & { machine?: QemuMachine };
    const t0 = Date.now();
    const saveOpts = { timeoutMs: saveTimeoutMs, log: opts.log };
    let asFile = false;
    if (memoryPath && q.memory === 'shareable' && q.mirror) {
      // The RAM is a shared memfd: device state without it, then the RAM copied out as is.
      await writeState(h.controlSocket, statePath, { ...saveOpts, ignoreShared: true });
      try {
        await copyRamOut(h.pid, q.mirror.memoryMib, memoryPath);
      } catch (err) {
        await rm(statePath, { force: true });
        throw err;
      }
      asFile = true;
    } else if (memoryPath && convertible(q)) {
      asFile = await convertState({ ...deps.convert, saveTimeoutMs, log: opts.log }, { ...q, machine: q.machine ?? deps.machine }, statePath, memoryPath);
    }
    if (!asFile) await writeState(h.controlSocket, statePath, { ...saveOpts, ignoreShared: false });
    opts.log.info({ pid: h.pid, statePath, memoryFile: asFile, ms: Date.now() - t0 }, 'qemu state saved');
    return asFile;
  },
  async nicMac(h) {
    requireRunning(h, 'read its NIC');
    const filters = await withQmp(h.controlSocket, (qmp) => qmp.execute<Array<{ 'main-mac'?: string }>>('query-rx-filter'));
    return filters.find((f) => f['main-mac'])?.['main-mac']?.toLowerCase() ?? null;
  },
  async pause(h) {
    requireRunning(h, 'pause it');
    await withQmp(h.controlSocket, (qmp) => qmp.execute('stop'));
  },
  async resume(h) {
    requireRunning(h, 'resume it');
    await withQmp(h.controlSocket, (qmp) => qmp.execute('cont'));
  },
  async recover(h) {
    const done = await endConverter(dirname(h.controlSocket));
    if (!isRunning(h)) return done;
    // Only a save pauses a VM (nothing else leaves one paused): a paused VM at daemon start was cut
    // short mid-save. A migration still running (into a converter that is gone now) is cancelled first.
    // The status it was found in; null: left paused.
    const was = await withQmp(h.controlSocket, async (qmp): Promise<string | null> => {
      const status = async () => (await qmp.execute<{ status: string }>('query-status')).status;
      let s = await status();
      if (s === 'running') return s;
      await qmp.execute('migrate_cancel').catch(() => undefined);
      for (let i = 0; i < 40 && s === 'finish-migrate'; i++) {
        await new Promise((r) => setTimeout(r, 50));
        s = await status();
      }
      if (s !== 'paused' && s !== 'postmigrate') return s;
      // Cut short between freezing the disk (the file renamed into the snapshot) and the switch: the
      // VM still writes the frozen layer. Finish the switch first (a new overlay at its disk path),
      // or every VM on that layer would see it change.
      const disk = (h as VmHandles & QemuMemoryFacts).mirror?.diskPath;
      const frozen = disk ? filesOpenForWriting(h.pid).filter((p) => p.endsWith('.qcow2') && p !== disk) : [];
      if (disk && frozen.length === 1) {
        const size = parseDiskInfo((await run([deps.convert.qemuImg, 'info', '-U', '--output=json', frozen[0]])).stdout)['virtual-size'];
        await rm(disk, { force: true });
        await run([deps.convert.qemuImg, 'create', '-q', '-f', 'qcow2', '-u', '-b', frozen[0], '-F', 'qcow2', disk, String(size)]);
        await qmp.execute('blockdev-snapshot-sync', { device: DISK_ID, 'snapshot-file': disk, format: 'qcow2', mode: 'existing' });
        await chmod(frozen[0], 0o444);
        done.push(`finished freezing its disk into ${frozen[0]}`);
      } else if (frozen.length) {
        done.push(`left paused: it writes ${frozen.join(', ')} besides its disk ${disk}`);
        return null;
      }
      await qmp.execute('cont');
      return s;
    });
    if (was !== null && was !== 'running') done.push(`resumed it (it was left ${was})`);
    return done;
  },
  async switchDisk(h, overlayPath) {
    requireRunning(h, 'switch its disk');
    // mode=existing: QEMU opens the caller's overlay as is and links the current node under it in
    // memory (the old node is reopened read-only). Works in postmigrate too, where it must run:
    // QEMU 7.2 cannot re-activate images after a migration when the switch came before it
    // ("Failed to get write lock" on `cont`).
    await withQmp(h.controlSocket, (qmp) =>
      qmp.execute('blockdev-snapshot-sync', { device: DISK_ID, 'snapshot-file': overlayPath, format: 'qcow2', mode: 'existing' }),
    );
  },
};

const hmp = (h: VmHandles, command: string) =>
  withQmp(h.controlSocket, (qmp) => qmp.execute<string>('human-monitor-command', { 'command-line': command }));

const requireUserNet = (h: VmHandles) => {
  if ((h as VmHandles & { network?: string }).network === 'bridge') {
    throw new BangerError('bad_request', 'port forwarding applies to user-mode networking; in bridge mode connect to the guest address directly');
  }
  // passt takes its forwards at start only (this version has no run-time interface).
  if (passtOf(h)) throw new BangerError('conflict', LIVE_FORWARD_PASST);
};

const ports: PortForwarder = {
  async addForward(h, hostPort, guestPort) {
    requireUserNet(h);
    requireRunning(h, 'forward a port');
    // HMP prints nothing on success and the reason on failure.
    const out = (await hmp(h, `hostfwd_add ${NETDEV_ID} ${hostfwdRule(hostPort, guestPort)}`)).trim();
    if (out) {
      const inUse = /Could not set up host forwarding rule/i.test(out);
      throw new BangerError(inUse ? 'conflict' : 'internal', inUse ? `host port ${hostPort} on 127.0.0.1 is already in use; pick another port` : `cannot forward port ${hostPort}: ${out}`);
    }
  },
  async removeForward(h, hostPort) {
    requireUserNet(h);
    requireRunning(h, 'remove a port forward');
    const out = (await hmp(h, `hostfwd_remove ${NETDEV_ID} tcp:127.0.0.1:${hostPort}`)).trim();
    if (/not found/i.test(out)) throw notFound('port forward', `127.0.0.1:${hostPort}`);
    if (out && !/removed/i.test(out)) throw new BangerError('internal', `cannot remove the forward of port ${hostPort}: ${out}`);
  },
};

  return { snapshots, ports };
}
