/**
 * What banger does to a running QEMU over QMP, beside starting and stopping it: save its state
 * (migration to a file), pause and resume, switch its disk, and add or remove port forwards on
 * slirp user networking. The driver (driver.ts) builds these over its own process checks.
 */
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { BangerError, notFound } from '../../api/errors.js';
import type { Logger } from '../../host/logger.js';
import type { PortForwarder, SnapshotManager, VmHandles } from '../driver.js';
import { DISK_ID, hostfwdRule, NETDEV_ID } from './args.js';
import { MigrationInfo, migrationOutcome, saveTarget } from './migration.js';
import type { PasstHandle } from './passt.js';
import { waitUntil } from './process.js';
import { type QmpClient, withQmp } from './qmp.js';

// Migration is local (a pipe to a file): lift QEMU's default 128 MiB/s throttle.
const MIGRATE_MAX_BANDWIDTH = 64 * 1024 ** 3;
/** How often a wait on QEMU polls. */
export const POLL_MS = 50;

/** Why a running passt-networked VM takes no forward change (refused before anything is stored). */
export const LIVE_FORWARD_PASST =
  "this VM's network (passt, which keeps the guest off the host's 127.0.0.1) takes port forwards at start only: stop the VM, run `banger vm forward` again, then start it (VMs created with --host-access or --no-egress use QEMU's slirp, which forwards live)";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** Polls query-migrate until the migration ends; throws with QEMU's reason when it failed. */
export async function waitForMigration(qmp: QmpClient, timeoutMs: number, what: string): Promise<MigrationInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = MigrationInfo.parse(await qmp.execute('query-migrate'));
    const outcome = migrationOutcome(info);
    if (outcome.done) {
      if (!outcome.ok) throw new BangerError('internal', `${what} failed: ${outcome.error}`);
      return info;
    }
    if (Date.now() >= deadline) throw new BangerError('unavailable', `${what} did not finish within ${timeoutMs} ms (status ${info.status ?? 'none'})`);
    await sleep(POLL_MS);
  }
}

export interface LiveOpsDeps {
  isRunning(h: VmHandles): boolean;
  passtOf(h: VmHandles): PasstHandle | undefined;
  saveTimeoutMs: number;
  log: Logger;
}

export function createLiveOps(deps: LiveOpsDeps): { snapshots: SnapshotManager; ports: PortForwarder } {
  const { isRunning, passtOf, saveTimeoutMs } = deps;
  const opts = { log: deps.log };
const requireRunning = (h: VmHandles, what: string) => {
  if (!isRunning(h)) throw new BangerError('conflict', `cannot ${what}: the VM's QEMU process (pid ${h.pid}) is not running`);
};

const snapshots: SnapshotManager = {
  async saveState(h, statePath) {
    requireRunning(h, 'save its state');
    const target = saveTarget(statePath);
    await Promise.all([rm(target.partPath, { force: true }), rm(target.writtenPath, { force: true })]);
    const t0 = Date.now();
    await withQmp(h.controlSocket, async (qmp) => {
      const before = (await qmp.execute<{ status: string }>('query-status')).status;
      await qmp.execute('stop');
      try {
        await qmp.execute('migrate-set-parameters', { 'max-bandwidth': MIGRATE_MAX_BANDWIDTH });
        await qmp.execute('migrate', { uri: target.uri });
        await waitForMigration(qmp, saveTimeoutMs, `saving the VM state to ${statePath}`);
      } catch (err) {
        await qmp.execute('migrate_cancel').catch(() => {});
        if (before === 'running') await qmp.execute('cont').catch(() => {});
        throw err;
      }
    }).catch(async (err) => {
      // The writer renames .part to .written once QEMU closes the pipe; clean up whichever exists.
      await sleep(200);
      await Promise.all([rm(target.partPath, { force: true }), rm(target.writtenPath, { force: true })]);
      throw err;
    });
    if (!(await waitUntil(() => existsSync(target.writtenPath), 30_000))) {
      throw new BangerError('internal', `the VM state was sent but ${target.writtenPath} never appeared; check disk space and ${target.partPath}`);
    }
    await rename(target.writtenPath, statePath);
    opts.log.info({ pid: h.pid, statePath, ms: Date.now() - t0 }, 'qemu state saved');
  },
  async pause(h) {
    requireRunning(h, 'pause it');
    await withQmp(h.controlSocket, (qmp) => qmp.execute('stop'));
  },
  async resume(h) {
    requireRunning(h, 'resume it');
    await withQmp(h.controlSocket, (qmp) => qmp.execute('cont'));
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
