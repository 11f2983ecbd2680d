/**
 * When E2B sandboxes expire (pure): the timeout a request may set, the new end time, and which
 * sandboxes are due and what happens to them (killed, or paused when created with auto-pause).
 */
import type { E2bSandboxRow } from '../store/e2b.js';

/** E2B's default sandbox timeout when a create omits it. */
export const DEFAULT_TIMEOUT_S = 300;
/** The longest any plan allows (24 h); more is clamped, as E2B does. */
export const MAX_TIMEOUT_S = 86_400;

export function clampTimeout(seconds: number | undefined): number {
  if (seconds === undefined || !Number.isFinite(seconds)) return DEFAULT_TIMEOUT_S;
  return Math.min(Math.max(0, Math.floor(seconds)), MAX_TIMEOUT_S);
}

export function endAtFor(now: Date, timeoutS: number): string {
  return new Date(now.getTime() + clampTimeout(timeoutS) * 1000).toISOString();
}

export interface ExpiryAction {
  id: string;
  action: 'kill' | 'pause';
}

/** Running sandboxes whose end time has passed: killed, or paused (auto-pause). Paused ones never expire. */
export function dueActions(rows: readonly Pick<E2bSandboxRow, 'id' | 'endAt' | 'onTimeout' | 'state'>[], now: Date): ExpiryAction[] {
  return rows
    .filter((r) => r.state === 'running' && Date.parse(r.endAt) <= now.getTime())
    .map((r) => ({ id: r.id, action: r.onTimeout }));
}

/** Milliseconds until the next running sandbox expires (for the timer), or null when none will. */
export function nextDueInMs(rows: readonly Pick<E2bSandboxRow, 'endAt' | 'state'>[], now: Date): number | null {
  const times = rows.filter((r) => r.state === 'running').map((r) => Date.parse(r.endAt) - now.getTime());
  return times.length ? Math.max(0, Math.min(...times)) : null;
}
