/**
 * Writing a QEMU's state to a file and waiting for migrations: the one save routine shared by
 * `saveState` (live.ts) and the RAM converter (convert.ts).
 */
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { BangerError } from '../../api/errors.js';
import type { Logger } from '../../host/logger.js';
import { MigrationInfo, migrationOutcome, saveTarget } from './migration.js';
import { waitUntil } from './process.js';
import { type QmpClient, withQmp } from './qmp.js';

// Migration is local (a pipe to a file): lift QEMU's default 128 MiB/s throttle.
export const MIGRATE_MAX_BANDWIDTH = 64 * 1024 ** 3;
/** How often a wait on QEMU polls. */
export const POLL_MS = 50;

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

/**
 * Pauses the QEMU behind `socket` and writes its state to `statePath`. `ignoreShared`: leave RAM in
 * shared backends out of the stream (x-ignore-shared; set either way, since a VM restored with it
 * keeps it on). On failure the VM runs again if it ran before.
 */
export async function writeState(socket: string, statePath: string, opts: { ignoreShared: boolean; timeoutMs: number; log: Logger }): Promise<void> {
  const target = saveTarget(statePath);
  await Promise.all([rm(target.partPath, { force: true }), rm(target.writtenPath, { force: true })]);
  await withQmp(socket, async (qmp) => {
    const before = (await qmp.execute<{ status: string }>('query-status')).status;
    await qmp.execute('stop');
    try {
      await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: opts.ignoreShared }] });
      await qmp.execute('migrate-set-parameters', { 'max-bandwidth': MIGRATE_MAX_BANDWIDTH });
      await qmp.execute('migrate', { uri: target.uri });
      await waitForMigration(qmp, opts.timeoutMs, `saving the VM state to ${statePath}`);
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
}
