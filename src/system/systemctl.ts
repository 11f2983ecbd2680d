/**
 * The systemctl seam of system install/status/restart/uninstall. The real one runs `systemctl`
 * (argv, through host/exec); under `--root DIR` (tests) nothing is started, stopped or asked, and
 * every unit's state is "unknown".
 */
import { existsSync } from 'node:fs';
import { run } from '../host/exec.js';

export type UnitState = 'active' | 'inactive' | 'failed' | 'activating' | 'deactivating' | 'unknown';

export interface Systemctl {
  /** False when units are only written, not managed (--root, or no running systemd). */
  readonly live: boolean;
  /** Why units are not managed (when not live), e.g. "--root". */
  readonly reason?: string;
  daemonReload(): Promise<void>;
  enable(units: readonly string[]): Promise<void>;
  restart(units: readonly string[]): Promise<void>;
  /** Stops and disables; a unit systemd does not know is not an error. */
  disableNow(units: readonly string[]): Promise<void>;
  isActive(unit: string): Promise<UnitState>;
}

/** Whether systemd is PID 1 on this host (the check `sd_booted()` makes). */
export const systemdRunning = (): boolean => existsSync('/run/systemd/system');

export function realSystemctl(): Systemctl {
  return {
    live: true,
    daemonReload: async () => void (await run(['systemctl', 'daemon-reload'], { timeoutMs: 60_000 })),
    enable: async (units) => void (await run(['systemctl', 'enable', ...units], { timeoutMs: 120_000 })),
    restart: async (units) => void (await run(['systemctl', 'restart', ...units], { timeoutMs: 120_000 })),
    disableNow: async (units) => void (await run(['systemctl', 'disable', '--now', ...units], { check: false, timeoutMs: 120_000 })),
    isActive: async (unit) => {
      const r = await run(['systemctl', 'is-active', unit], { check: false, timeoutMs: 10_000 });
      const s = r.stdout.trim();
      return (['active', 'inactive', 'failed', 'activating', 'deactivating'] as const).find((x) => x === s) ?? 'unknown';
    },
  };
}

/** --root DIR or a host without systemd: files only. */
export function noSystemctl(reason: string): Systemctl {
  const nothing = async () => {};
  return { live: false, reason, daemonReload: nothing, enable: nothing, restart: nothing, disableNow: nothing, isActive: async () => 'unknown' };
}
