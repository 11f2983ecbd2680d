/**
 * A VM a daemon crash left in the middle of `vm snapshot`: paused, its RAM converter still running
 * and the converter's files in its runtime directory. `recover` (run for every VM a daemon start
 * finds running) ends the converter, removes the files and resumes the VM. Real QEMU processes
 * without a guest (`-M none`), real QMP.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnProcess, type ProcessHandle } from '../../host/exec.js';
import { silentLogger } from '../../host/logger.js';
import type { VmHandles } from '../driver.js';
import { createQemuDriver } from './driver.js';
import { withQmp } from './qmp.js';
import { waitUntil } from './process.js';

let dir: string;
let vm: ProcessHandle;
let converter: ProcessHandle;
let h: VmHandles;
const qemu = (qmp: string) =>
  spawnProcess(['qemu-system-x86_64', '-M', 'none', '-nodefaults', '-no-user-config', '-display', 'none', '-qmp', `unix:${qmp},server=on,wait=off`], { detached: true });
const status = () => withQmp(h.controlSocket, async (q) => (await q.execute<{ status: string }>('query-status')).status);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bq-'));
  vm = qemu(join(dir, 'qmp.sock'));
  converter = qemu(join(dir, 'convert.sock'));
  h = { pid: vm.pid, controlSocket: join(dir, 'qmp.sock'), accel: 'tcg', startedAt: new Date().toISOString() };
  await waitUntil(() => existsSync(h.controlSocket) && existsSync(join(dir, 'convert.sock')), 10_000);
  await withQmp(h.controlSocket, (q) => q.execute('stop'));
  for (const f of ['convert.qcow2', 'migrate.sock']) writeFileSync(join(dir, f), '');
}, 30_000);

afterAll(async () => {
  vm?.kill('SIGKILL');
  converter?.kill('SIGKILL');
  await Promise.all([vm?.exit, converter?.exit]);
  rmSync(dir, { recursive: true, force: true });
});

describe('recover after a save cut short', () => {
  it('ends the converter, removes its files and resumes the paused VM; a second run has nothing to do', async () => {
    const driver = createQemuDriver({ log: silentLogger });
    expect(await status()).toBe('paused');
    const done = await driver.snapshots.recover!(h);
    expect(done).toEqual([`ended a RAM converter left running (pid ${converter.pid})`, 'resumed it (it was left paused)']);
    expect(await converter.exit).toBe(128 + 9);
    for (const f of ['convert.sock', 'convert.qcow2', 'migrate.sock']) expect(existsSync(join(dir, f))).toBe(false);
    expect(await status()).toBe('running');
    expect(await driver.snapshots.recover!(h)).toEqual([]);
  });
});
