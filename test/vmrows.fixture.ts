/**
 * Test fixture: VM rows written straight into an install's database while its daemon is down, for
 * host tests of what a daemon start makes of state that older code or a crash left (no VM booted).
 * The daemon creates the database (all migrations) first, then stops; the rows go in under kernel
 * `k` and image `i`, which exist only as rows.
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { openDb } from '../src/store/db.js';
import { makeInstall, type Install } from './install.fixture.js';

export interface VmRow {
  id: string;
  name: string;
  state: 'stopped' | 'starting' | 'running';
  /** @default 1 GiB */
  diskSizeBytes?: number;
}

/** A new install under a temp dir named `tmpPrefix` whose database holds `rows`; its daemon is stopped. */
export async function installWithVmRows(tmpPrefix: string, rows: VmRow[]): Promise<Install> {
  const inst = makeInstall(mkdtempSync(tmpPrefix));
  for (const args of [['daemon', 'status'], ['daemon', 'stop']]) {
    const r = await inst.cli(args);
    if (r.code !== 0) throw new Error(`banger ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  }
  const db = openDb(join(inst.stateDir, 'banger.db'));
  try {
    const t = new Date().toISOString();
    db.prepare("INSERT INTO kernels (name, sha256, manifest, created_at) VALUES ('k', ?, '{}', ?)").run('0'.repeat(64), t);
    db.prepare("INSERT INTO images (name, sha256, kernel_name, manifest, created_at) VALUES ('i', ?, 'k', '{}', ?)").run('1'.repeat(64), t);
    const vm = db.prepare(
      `INSERT INTO vms (id, name, image_name, kernel_name, vcpu, memory_mib, disk_size_bytes, network, state, workspace, created_at, updated_at)
       VALUES (?, ?, 'i', 'k', 1, 1024, ?, '{"mode":"user","egress":true,"nat":false}', ?, NULL, ?, ?)`,
    );
    for (const r of rows) vm.run(r.id, r.name, r.diskSizeBytes ?? 1024 ** 3, r.state, t, t);
  } finally {
    db.close();
  }
  return inst;
}
