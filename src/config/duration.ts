/**
 * Duration strings for config keys (`auto_stop_stale_after`, `stats_poll_interval`): Go-style
 * sequences like `90s`, `5m`, `2h`, `1h30m`, `500ms`, and `"0"` meaning off. Pure and bounded:
 * a value longer than MAX_DURATION_MS (a year) is an error, never an overflowing number.
 */
import { z } from 'zod';

export const MAX_DURATION_MS = 365 * 24 * 3600 * 1000;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const PART = /(\d{1,9})(ms|s|m|h|d)/gy;

/** Milliseconds, or null when `text` is not a duration (or exceeds a year). `"0"` is 0. */
export function parseDuration(text: string): number | null {
  const s = text.trim();
  if (s === '0') return 0;
  if (s === '') return null;
  PART.lastIndex = 0;
  let total = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = PART.exec(s)) !== null) {
    total += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
    end = PART.lastIndex;
  }
  if (end !== s.length || total > MAX_DURATION_MS) return null;
  return total;
}

/** `1h30m`, `20s`, `0`: the shortest form of a millisecond count (ms dropped above a second). */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0';
  if (ms < 1000) return `${ms}ms`;
  let s = Math.round(ms / 1000);
  const out: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (s >= size) {
      out.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return out.join('');
}

/** A duration string in a config file, parsed to milliseconds. */
export const Duration = z
  .string()
  .transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: 'durations look like "0" (off), "90s", "5m", "2h" or "1h30m", at most a year' });
      return z.NEVER;
    }
    return ms;
  });
