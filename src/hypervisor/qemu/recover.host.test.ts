/**
 * A VM a daemon crash left in the middle of `vm snapshot`: paused, its RAM converter still running
 * and the converter's files in its runtime directory. `recover` (run for every VM a daemon start
 * finds running) ends the converter, removes the files and resumes the VM. Cut short after its disk
 * was renamed into the snapshot (the frozen layer) but before the switch, the VM still writes that
 * layer: `recover` first gives it a new overlay at its disk path. Real QEMU processes without a
 * guest (`-M none`), real QMP, real qemu-img.
 */
import { existsSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, spawnProcess, type ProcessHandle } from '../../host/exec.js';
import { silentLogger } from '../../host/logger.js';
import type { VmHandles } from '../driver.js';
import { createQemuDriver } from './driver.js';
import { withQmp } from './qmp.js';
import { filesOpenForWriting, waitUntil } from './process.js';

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

describe('recover after a save cut short while freezing the disk', () => {
  let mid: ProcessHandle;
  let d: string;
  afterAll(async () => {
    mid?.kill('SIGKILL');
    await mid?.exit;
    if (d) rmSync(d, { recursive: true, force: true });
  });

  it('finishes the switch to a new overlay before resuming, so the frozen layer is never written again', async () => {
    d = mkdtempSync(join(tmpdir(), 'bq-'));
    const disk = join(d, 'disk.qcow2');
    const layer = join(d, 'layer.qcow2');
    await run(['qemu-img', 'create', '-q', '-f', 'qcow2', disk, '64M']);
    const qmp = join(d, 'qmp.sock');
    mid = spawnProcess(
      ['qemu-system-x86_64', '-M', 'none', '-nodefaults', '-no-user-config', '-display', 'none', '-drive', `id=disk0,file=${disk},format=qcow2,if=none`, '-qmp', `unix:${qmp},server=on,wait=off`],
      { detached: true },
    );
    await waitUntil(() => existsSync(qmp), 10_000);
    const hm = { pid: mid.pid, controlSocket: qmp, accel: 'tcg', startedAt: new Date().toISOString(), mirror: { diskPath: disk } } as unknown as VmHandles;
    await withQmp(qmp, (q) => q.execute('stop'));
    renameSync(disk, layer); // what vm snapshot does right before it makes the overlay and switches
    expect(filesOpenForWriting(mid.pid)).toContain(layer);

    const done = await createQemuDriver({ log: silentLogger }).snapshots.recover!(hm);
    expect(done).toEqual([`finished freezing its disk into ${layer}`, 'resumed it (it was left paused)']);
    expect(filesOpenForWriting(mid.pid).filter((p) => p.endsWith('.qcow2'))).toEqual([disk]);
    const info = JSON.parse((await run(['qemu-img', 'info', '-U', '--output=json', disk])).stdout) as { 'backing-filename': string; 'virtual-size': number };
    expect(info).toMatchObject({ 'backing-filename': layer, 'virtual-size': 64 * 1024 * 1024 });
    expect(statSync(layer).mode & 0o777).toBe(0o444);
    expect(await withQmp(qmp, async (q) => (await q.execute<{ status: string }>('query-status')).status)).toBe('running');
  });
});
