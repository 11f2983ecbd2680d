import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BangerError } from '../api/errors.js';
import { createArtifactStore } from './artifacts.js';
import { MIGRATIONS, openDb } from './db.js';
import { createVmStore } from './vms.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmpDb = () => {
  const d = mkdtempSync(join(tmpdir(), 'banger-db-'));
  dirs.push(d);
  return join(d, 'banger.db');
};

function seed(db: ReturnType<typeof openDb>) {
  createArtifactStore(db, 'kernels', (x) => x).put('k', 'sha-k', { a: 1 });
  createArtifactStore(db, 'images', (x) => x).put('img', 'sha-i', { b: 2 }, { kernel_name: 'k' });
}
const vm = (id: string, name: string) => ({
  id,
  name,
  image: 'img',
  kernel: 'k',
  vcpu: 1,
  memoryMib: 512,
  diskSizeBytes: 1 << 30,
  network: { mode: 'user' as const, egress: true, nat: false },
  state: 'stopped' as const,
  workspace: null,
});

describe('store', () => {
  it('opens in WAL mode with foreign keys and migrates to the latest version, idempotently', () => {
    const path = tmpDb();
    const db = openDb(path);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    db.close();
    const again = openDb(path);
    expect(again.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    again.close();
  });

  it('refuses a database from a newer banger', () => {
    const path = tmpDb();
    const db = openDb(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 5}`);
    db.close();
    expect(() => openDb(path)).toThrow(/newer than this banger/);
  });

  it('stores VMs, keeps names unique with already_exists, and updates fields', () => {
    const db = openDb(tmpDb());
    seed(db);
    const vms = createVmStore(db);
    vms.insert(vm('a1', 'web'));
    try {
      vms.insert(vm('a2', 'web'));
      expect.unreachable();
    } catch (err) {
      expect((err as BangerError).code).toBe('already_exists');
    }
    const u = vms.update('a1', { state: 'running', vcpu: 2 });
    expect(u).toMatchObject({ state: 'running', vcpu: 2, name: 'web' });
    expect(vms.findByName('web')?.id).toBe('a1');
    expect(vms.usersOf('image_name', 'img')).toEqual(['web']);
    vms.remove('a1');
    expect(vms.list()).toEqual([]);
  });

  it('enforces that a VM references a registered image', () => {
    const db = openDb(tmpDb());
    seed(db);
    expect(() => createVmStore(db).insert({ ...vm('b', 'x'), image: 'nope' })).toThrow(/FOREIGN KEY/);
  });

  it('counts references to artifact content', () => {
    const db = openDb(tmpDb());
    const k = createArtifactStore(db, 'kernels', (x) => x);
    k.put('one', 'same', {});
    k.put('two', 'same', {});
    expect(k.refCount('same')).toBe(2);
    k.remove('one');
    expect(k.refCount('same')).toBe(1);
    expect(k.get('two')?.sha256).toBe('same');
  });
});
