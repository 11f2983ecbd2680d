/**
 * config.toml's `auto_stop_stale_after`: a running VM nobody used for that long (no start, exec,
 * ssh or workspace operation, and no open interactive terminal in the guest) is stopped
 * gracefully, never deleted. The decision is pure (`isStale`, `autoStopAt`); the activity
 * tracker records uses durably (store/activity.ts); a daemon timer runs `checkOnce`, which stops
 * through the VM service under the VM's lock, re-checking there so a use that just arrived wins.
 */
import type { Logger } from '../host/logger.js';
import type { ActivityStore } from '../store/activity.js';
import type { VmRecord } from '../store/vms.js';
import type { GuestSession } from '../guest/access.js';

/** When a VM last counted as used: its recorded activity, else its last lifecycle change. */
export function lastUse(lastActiveAt: string | null, updatedAt: string): number {
  return Date.parse(lastActiveAt ?? updatedAt);
}

/** Pure: is a VM last used at `lastUseMs` stale at `nowMs`? `staleMs` 0 is off; an operation in flight is never stale. */
export function isStale(p: { lastUseMs: number; nowMs: number; staleMs: number; inFlight: number }): boolean {
  if (p.staleMs <= 0 || p.inFlight > 0 || Number.isNaN(p.lastUseMs)) return false;
  return p.nowMs - p.lastUseMs >= p.staleMs;
}

/** Pure: when the VM will be stopped (ISO), or null when auto-stop is off or it is not running. */
export function autoStopAt(p: { lastUseMs: number; staleMs: number; running: boolean }): string | null {
  if (p.staleMs <= 0 || !p.running || Number.isNaN(p.lastUseMs)) return null;
  return new Date(p.lastUseMs + p.staleMs).toISOString();
}

/** How often the daemon checks: a quarter of the setting, between 1 s and 60 s. */
export function checkIntervalMs(staleMs: number): number {
  return Math.max(1000, Math.min(60_000, Math.floor(staleMs / 4)));
}

/** Guest command: exit 0 when an interactive terminal is open (someone is in `vm ssh`). */
export const OPEN_TERMINALS = ['sh', '-c', 'for p in /dev/pts/[0-9]*; do [ -e "$p" ] && exit 0; done; exit 1'];

export interface Activity {
  /** Records a use now. */
  touch(id: string): void;
  /** Marks an operation in flight (a running exec); the returned function ends it (and records a use). */
  hold(id: string): () => void;
  /** For `vm show`: when it was last used and when it will be stopped. */
  describe(rec: Pick<VmRecord, 'id' | 'updatedAt'>, running: boolean): { lastActiveAt: string | null; autoStopAt: string | null };
  /** Stale now (cheap: no guest check)? */
  due(rec: Pick<VmRecord, 'id' | 'updatedAt'>): boolean;
  /** Under the VM lock, right before stopping: still stale? (a terminal open in the guest counts as use) */
  stillIdle(rec: VmRecord, session: GuestSession | null): Promise<boolean>;
}

export function createActivity(deps: { store: ActivityStore; staleMs: number; now?: () => number; log?: Logger }): Activity {
  const now = deps.now ?? Date.now;
  const inFlight = new Map<string, number>();
  const stale = (rec: Pick<VmRecord, 'id' | 'updatedAt'>) =>
    isStale({ lastUseMs: lastUse(deps.store.get(rec.id), rec.updatedAt), nowMs: now(), staleMs: deps.staleMs, inFlight: inFlight.get(rec.id) ?? 0 });
  return {
    touch: (id) => deps.store.touch(id),
    hold(id) {
      inFlight.set(id, (inFlight.get(id) ?? 0) + 1);
      deps.store.touch(id);
      let done = false;
      return () => {
        if (done) return;
        done = true;
        const n = (inFlight.get(id) ?? 1) - 1;
        if (n <= 0) inFlight.delete(id);
        else inFlight.set(id, n);
        deps.store.touch(id);
      };
    },
    due: stale,
    describe(rec, running) {
      const lastActiveAt = deps.store.get(rec.id);
      return { lastActiveAt, autoStopAt: autoStopAt({ lastUseMs: lastUse(lastActiveAt, rec.updatedAt), staleMs: deps.staleMs, running }) };
    },
    async stillIdle(rec, session) {
      if (!stale(rec)) return false;
      if (session) {
        const r = await session.run(OPEN_TERMINALS, { timeoutMs: 10_000 }).catch(() => null);
        if (r?.code === 0) {
          deps.log?.info({ vm: rec.name }, 'auto-stop: an interactive terminal is open in the guest; counted as use');
          deps.store.touch(rec.id);
          return false;
        }
      }
      return true;
    },
  };
}

/** What the checker needs of the VM service. */
export interface AutoStopVms {
  list(): Array<{ id: string; name: string; state: string; updatedAt: string }>;
  /** Stops the VM gracefully if `stillIdle` holds under its lock; true when it stopped it. */
  stopIfIdle(name: string, stillIdle: (rec: VmRecord, session: GuestSession | null) => Promise<boolean>, timeoutMs: number): Promise<boolean>;
}

/** One pass: stops every running VM that is stale. Returns the names stopped. */
export async function checkOnce(vms: AutoStopVms, activity: Activity, log: Logger): Promise<string[]> {
  const stopped: string[] = [];
  for (const v of vms.list()) {
    if (v.state !== 'running' || !activity.due(v)) continue;
    try {
      if (await vms.stopIfIdle(v.name, activity.stillIdle, 30_000)) {
        log.info({ vm: v.name }, 'auto-stop: stopped a VM unused for auto_stop_stale_after');
        stopped.push(v.name);
      }
    } catch (err) {
      log.warn({ vm: v.name, err: (err as Error).message }, 'auto-stop failed');
    }
  }
  return stopped;
}

/** The daemon's timer (unref'd); passes never overlap. Returns a stop function. */
export function startAutoStop(vms: AutoStopVms, activity: Activity, staleMs: number, log: Logger): () => void {
  if (staleMs <= 0) return () => {};
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void checkOnce(vms, activity, log).finally(() => (running = false));
  }, checkIntervalMs(staleMs));
  timer.unref();
  return () => clearInterval(timer);
}
