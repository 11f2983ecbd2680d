/**
 * A daemon crash in the middle of a restore (fork child or warm create), through the real CLI,
 * daemon and SQLite, no VM booted: the VM's row and directory still carry the `restoring` marker
 * and its hypervisor (here a stand-in process whose argv names the VM's runtime directory, as
 * QEMU's does) was spawned before any handles.json named it. The next daemon start deletes that VM
 * (it never got its own identity) and ends its process; a finished VM is kept; a marked directory
 * without a row (a crash before the row was written) goes too, and a snapshot layer left writable is sealed.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnProcess, type ProcessHandle } from '../host/exec.js';
import { openDb } from '../store/db.js';
import type { Install } from '../../test/install.fixture.js';
import { installWithVmRows } from '../../test/vmrows.fixture.js';

let inst: Install;
let stray: ProcessHandle;
let strayExit: number | null = null;
const HALF = 'aaaaaaaaaaa1';
const WHOLE = 'aaaaaaaaaaa2';
const ORPHAN = 'aaaaaaaaaaa3';
const SNAP = 'bbbbbbbbbbb1';
const layer = () => join(inst.stateDir, 'snapshots', SNAP, 'disk.qcow2');

beforeAll(async () => {
  inst = await installWithVmRows('/tmp/bi-', [
    { id: HALF, name: 'half', state: 'starting' },
    { id: WHOLE, name: 'whole', state: 'stopped' },
  ]);
  // A snapshot whose layer a crash left writable (between the disk switch and the seal).
  const db = openDb(join(inst.stateDir, 'banger.db'));
  try {
    const spec = { vcpu: 1, memoryMib: 1024, diskSizeBytes: 1024 ** 3, accel: 'tcg', hypervisor: 'qemu', hypervisorVersion: '7.2.0', network: 'user', workspace: null };
    db.prepare("INSERT INTO snapshots (id, name, kind, image_name, kernel_name, spec, state_bytes, created_at) VALUES (?, 'snap', 'user', 'i', 'k', ?, 1, ?)").run(SNAP, JSON.stringify(spec), new Date().toISOString());
  } finally {
    db.close();
  }
  mkdirSync(join(inst.stateDir, 'snapshots', SNAP), { recursive: true });
  writeFileSync(layer(), 'layer', { mode: 0o644 });
  for (const id of [HALF, WHOLE, ORPHAN]) mkdirSync(join(inst.stateDir, 'vms', id), { recursive: true });
  writeFileSync(join(inst.stateDir, 'vms', HALF, 'restoring'), '');
  writeFileSync(join(inst.stateDir, 'vms', ORPHAN, 'restoring'), '');
  const runtime = join(inst.runtimeDir, 'vms', HALF);
  mkdirSync(runtime, { recursive: true });
  stray = spawnProcess(['perl', '-e', 'sleep 120', join(runtime, 'qmp.sock')], { detached: true });
  void stray.exit.then((c) => (strayExit = c));
}, 120_000);

afterAll(async () => {
  stray?.kill('SIGKILL');
  await inst?.destroy();
});

describe('a restore cut short by a daemon crash', () => {
  it('is deleted at the next daemon start, its unrecorded process ended; a finished VM stays', async () => {
    const r = await inst.cli(['vm', 'list', '--json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as Array<{ name: string }>).map((v) => v.name)).toEqual(['whole']);
    await stray.exit;
    expect(strayExit).toBe(128 + 9);
    expect(existsSync(join(inst.stateDir, 'vms', HALF))).toBe(false);
    expect(existsSync(join(inst.runtimeDir, 'vms', HALF))).toBe(false);
    expect(existsSync(join(inst.stateDir, 'vms', ORPHAN))).toBe(false);
    expect(existsSync(join(inst.stateDir, 'vms', WHOLE))).toBe(true);
  });

  it('seals a snapshot layer the crash left writable', () => {
    expect(statSync(layer()).mode & 0o777).toBe(0o444);
  });
});
