/**
 * Forks and warm restores share memory: a snapshot's RAM is one file (memory.bin) that every VM
 * restored from it maps copy-on-write. On real guests, through the real CLI and daemon; one install
 * and a few guests for the whole file.
 *
 * What must hold: the warm snapshot and a fork's snapshot keep their RAM as a file and a device-only
 * state; restored QEMUs map that file privately; forks are independent in memory (a write in one is
 * seen neither in the others nor in the source) and each gets its own random state, host key and
 * name; the file is never changed by running forks; a snapshot with live forks is not deleted; a
 * restarted daemon adopts the forks; a fork of a fork (its RAM converted again) works.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Snapshot } from '../api/snapshot.js';
import { freshInstall, type Install } from '../../test/install.fixture.js';

let inst: Install;

beforeAll(async () => {
  inst = await freshInstall();
}, 1_800_000);

afterAll(async () => {
  await inst?.destroy();
});

const json = <T>(s: string): T => JSON.parse(s) as T;
async function ok(args: string[]) {
  const r = await inst.cli(args);
  if (r.code !== 0) throw new Error(`banger ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}
const out = async (vm: string, script: string) => (await ok(['vm', 'exec', vm, '--', 'sh', '-c', script])).stdout.trim();
const snapshot = async (name: string) => json<{ snapshots: Snapshot[] }>((await ok(['snapshot', 'list', '--json'])).stdout).snapshots.find((s) => s.name === name)!;
const pidOf = async (vm: string) => json<{ pid: number }>((await ok(['vm', 'show', vm])).stdout).pid;
const snapFile = (s: Snapshot, f: string) => join(inst.stateDir, 'snapshots', s.id, f);
/** The lines of /proc/PID/maps that map `file`. */
const mapsOf = (pid: number, file: string) =>
  readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .filter((l) => l.endsWith(` ${file}`));
const sha256 = (file: string) =>
  new Promise<string>((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });

/** A snapshot kept as a RAM file plus device-only state, and the RAM file mapped privately (never shared) by `vms`. */
async function expectSharedRam(s: Snapshot, vms: string[]) {
  const memory = snapFile(s, 'memory.bin');
  expect(existsSync(memory), `${s.name} has no memory.bin`).toBe(true);
  expect(statSync(memory).size).toBe(s.memoryMib * 1024 ** 2);
  // Device state only: tens of KB where a whole RAM image is hundreds of MB.
  expect(statSync(snapFile(s, 'state.bin')).size).toBeLessThan(4 * 1024 ** 2);
  for (const vm of vms) {
    const maps = mapsOf(await pidOf(vm), memory);
    expect(maps.length, `${vm} does not map ${memory}`).toBeGreaterThan(0);
    // rw-p: a private (copy-on-write) mapping; a shared one would be rw-s.
    for (const l of maps) expect(l.split(/\s+/)[1]).toBe('rw-p');
  }
}

describe('forks and warm restores share one RAM file', () => {
  let warm: Snapshot;
  let forkSnap: Snapshot;
  let memHash: string;

  it('a warm-created VM maps the warm snapshot\'s RAM file copy-on-write', async () => {
    await ok(['vm', 'create', '--name', 'src']);
    warm = await snapshot('warm:debian-bookworm');
    await expectSharedRam(warm, ['src']);
  });

  it('forks of a running VM share its RAM file, yet are independent in memory and identity', async () => {
    // Guest RAM content made before the fork (tmpfs lives in guest RAM): both forks must have it.
    await out('src', 'echo before-fork > /dev/shm/mark');
    const f = await ok(['vm', 'fork', 'src', '--name', 'kid', '--count', '2', '--json']);
    forkSnap = await snapshot(json<{ snapshot: string }>(f.stdout).snapshot);
    await expectSharedRam(forkSnap, ['kid-1', 'kid-2']);
    memHash = await sha256(snapFile(forkSnap, 'memory.bin'));

    expect(await out('kid-1', 'cat /dev/shm/mark')).toBe('before-fork');
    expect(await out('kid-2', 'cat /dev/shm/mark')).toBe('before-fork');
    // A write to RAM in one fork (64 MiB, and the marker) is seen neither by the other nor by the source.
    await out('kid-1', 'echo kid-1 > /dev/shm/mark; head -c 67108864 /dev/urandom > /dev/shm/fill; sync');
    expect(await out('kid-2', 'cat /dev/shm/mark; ls /dev/shm')).toBe('before-fork\nmark');
    expect(await out('src', 'cat /dev/shm/mark; ls /dev/shm')).toBe('before-fork\nmark');
    expect(await out('kid-1', 'cat /dev/shm/mark')).toBe('kid-1');

    // Each fork its own random state, host key and name.
    const id = 'hostname; cat /etc/ssh/ssh_host_ed25519_key.pub; head -c 32 /dev/urandom | od -An -tx1 | tr -d " \\n"';
    const [a, b] = (await Promise.all([out('kid-1', id), out('kid-2', id)])).map((s) => s.split('\n'));
    expect([a[0], b[0]]).toEqual(['kid-1', 'kid-2']);
    expect(a[1]).not.toBe(b[1]);
    expect(a[2]).toMatch(/^[0-9a-f]{64}$/);
    expect(a[2]).not.toBe(b[2]);

    // The RAM file is as it was saved: running forks never write it.
    expect(await sha256(snapFile(forkSnap, 'memory.bin'))).toBe(memHash);
  });

  it('refuses to delete a snapshot whose forks run, and keeps its RAM file', async () => {
    const del = await inst.cli(['snapshot', 'delete', forkSnap.name]);
    expect(del.code).toBe(5);
    expect(del.stderr).toMatch(/VM kid-1, VM kid-2/);
    expect(existsSync(snapFile(forkSnap, 'memory.bin'))).toBe(true);
  });

  it('a restarted daemon adopts the forks', async () => {
    const before = await Promise.all(['kid-1', 'kid-2'].map(pidOf));
    await ok(['daemon', 'stop']);
    const list = json<Array<{ name: string; state: string; pid: number | null }>>((await ok(['vm', 'list', '--json'])).stdout);
    for (const [i, kid] of ['kid-1', 'kid-2'].entries()) {
      expect(list.find((v) => v.name === kid)).toMatchObject({ state: 'running', pid: before[i] });
    }
    expect(await out('kid-1', 'hostname; cat /dev/shm/mark')).toBe('kid-1\nkid-1');
    expect(await out('kid-2', 'hostname; cat /dev/shm/mark')).toBe('kid-2\nbefore-fork');
  });

  it('a fork of a fork gets its RAM converted to a file again, with the first fork\'s memory in it', async () => {
    const f = await ok(['vm', 'fork', 'kid-1', '--name', 'grandkid', '--json']);
    const snap = await snapshot(json<{ snapshot: string }>(f.stdout).snapshot);
    await expectSharedRam(snap, ['grandkid']);
    expect(await out('grandkid', 'hostname; cat /dev/shm/mark; ls /dev/shm')).toBe('grandkid\nkid-1\nfill\nmark');
    // kid-1 resumed after its snapshot and still has its memory.
    expect(await out('kid-1', 'cat /dev/shm/mark')).toBe('kid-1');
    expect(await sha256(snapFile(forkSnap, 'memory.bin'))).toBe(memHash);
    await ok(['vm', 'delete', 'grandkid', 'kid-1', 'kid-2', 'src']);
    await ok(['snapshot', 'delete', snap.name]);
    await ok(['snapshot', 'delete', forkSnap.name]);
    expect(existsSync(join(inst.stateDir, 'snapshots', forkSnap.id))).toBe(false);
  });
});
