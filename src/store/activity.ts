/**
 * When each VM was last used (start, exec, ssh, workspace), durably, so `auto_stop_stale_after`
 * counts across daemon restarts. A column of the vms row, kept out of VmRecord: lifecycle updates
 * never overwrite it, and only this module writes it.
 */
import type { Db } from './db.js';

export function createActivityStore(db: Db, now: () => Date = () => new Date()) {
  const set = db.prepare<[string, string]>('UPDATE vms SET last_active_at = ? WHERE id = ?');
  const get = db.prepare<[string], { last_active_at: string | null }>('SELECT last_active_at FROM vms WHERE id = ?');
  return {
    touch(id: string): void {
      set.run(now().toISOString(), id);
    },
    /** ISO time of the last activity, or null (never recorded, or no such VM). */
    get(id: string): string | null {
      return get.get(id)?.last_active_at ?? null;
    },
  };
}
export type ActivityStore = ReturnType<typeof createActivityStore>;
