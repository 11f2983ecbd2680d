/**
 * SQLite: WAL, foreign keys, busy timeout, forward-only migrations. Durable intent and identity
 * live here; transient process state lives in each VM's handles.json.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type Db = Database.Database;

/** Forward-only: append new entries, never edit old ones. Index + 1 is the schema version. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE kernels (
     name TEXT PRIMARY KEY,
     sha256 TEXT NOT NULL,
     manifest TEXT NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE TABLE images (
     name TEXT PRIMARY KEY,
     sha256 TEXT NOT NULL,
     kernel_name TEXT REFERENCES kernels(name),
     manifest TEXT NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE TABLE vms (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     image_name TEXT NOT NULL REFERENCES images(name),
     kernel_name TEXT NOT NULL REFERENCES kernels(name),
     vcpu INTEGER NOT NULL,
     memory_mib INTEGER NOT NULL,
     disk_size_bytes INTEGER NOT NULL,
     network TEXT NOT NULL,
     state TEXT NOT NULL,
     workspace TEXT,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );`,
  // Snapshots (saved memory + device state and a frozen disk layer) and which snapshot layer each
  // VM's overlay sits on. image/kernel names are plain columns (guarded in code, not by FKs) so an
  // image rebuilt under its name (INSERT OR REPLACE) never trips a constraint.
  `CREATE TABLE snapshots (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     kind TEXT NOT NULL,
     parent_id TEXT REFERENCES snapshots(id),
     source_vm TEXT,
     image_name TEXT NOT NULL,
     kernel_name TEXT NOT NULL,
     spec TEXT NOT NULL,
     state_bytes INTEGER NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE TABLE vm_snapshot_refs (
     vm_id TEXT PRIMARY KEY REFERENCES vms(id) ON DELETE CASCADE,
     snapshot_id TEXT NOT NULL REFERENCES snapshots(id),
     resume INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX vm_snapshot_refs_snapshot ON vm_snapshot_refs(snapshot_id);`,
  // When a VM was last used (start, exec, ssh, workspace): auto_stop_stale_after counts from here.
  `ALTER TABLE vms ADD COLUMN last_active_at TEXT;`,
  // Which VMs are E2B sandboxes (e2b/): metadata, envs, expiry, envd token. No FK to vms: a VM
  // deleted behind the endpoint's back makes its row stale, and the endpoint drops it.
  `CREATE TABLE e2b_sandboxes (
     id TEXT PRIMARY KEY,
     vm_name TEXT NOT NULL,
     template TEXT NOT NULL,
     metadata TEXT NOT NULL,
     envs TEXT NOT NULL,
     access_token TEXT NOT NULL,
     started_at TEXT NOT NULL,
     end_at TEXT NOT NULL,
     on_timeout TEXT NOT NULL,
     state TEXT NOT NULL
   );`,
];

export function openDb(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

export function migrate(db: Db): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this banger (${MIGRATIONS.length}); upgrade banger`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return MIGRATIONS.length;
}
