/**
 * Name → content-addressed artifact registry for kernels and images. The artifact directories
 * themselves are written by artifacts/; this table is what makes them visible by name.
 */
import type { Db } from './db.js';

export interface ArtifactRow<M> {
  name: string;
  sha256: string;
  manifest: M;
  createdAt: string;
}

export function createArtifactStore<M>(db: Db, table: 'kernels' | 'images', parse: (raw: unknown) => M) {
  type Raw = { name: string; sha256: string; manifest: string; created_at: string };
  const toRow = (r: Raw): ArtifactRow<M> => ({ name: r.name, sha256: r.sha256, manifest: parse(JSON.parse(r.manifest)), createdAt: r.created_at });
  return {
    get(name: string): ArtifactRow<M> | null {
      const r = db.prepare<[string], Raw>(`SELECT * FROM ${table} WHERE name = ?`).get(name);
      return r ? toRow(r) : null;
    },
    list(): ArtifactRow<M>[] {
      return db.prepare<[], Raw>(`SELECT * FROM ${table} ORDER BY name`).all().map(toRow);
    },
    /** Registers or replaces a name (the artifact directory must already be in place). */
    put(name: string, sha256: string, manifest: M, extra: Record<string, unknown> = {}): void {
      const cols = ['name', 'sha256', 'manifest', 'created_at', ...Object.keys(extra)];
      const vals = cols.map((c) => `@${c}`);
      db.prepare(`INSERT OR REPLACE INTO ${table} (${cols.join(', ')}) VALUES (${vals.join(', ')})`).run({
        name,
        sha256,
        manifest: JSON.stringify(manifest),
        created_at: new Date().toISOString(),
        ...extra,
      });
    },
    remove(name: string): void {
      db.prepare(`DELETE FROM ${table} WHERE name = ?`).run(name);
    },
    /** How many names point at this content (a directory is removed only when none do). */
    refCount(sha256: string): number {
      return (db.prepare<[string], { n: number }>(`SELECT count(*) AS n FROM ${table} WHERE sha256 = ?`).get(sha256)?.n ?? 0);
    },
  };
}
export type ArtifactStore<M> = ReturnType<typeof createArtifactStore<M>>;
