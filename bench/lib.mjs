// What every bench shares: the statistics its rows print and small helpers. Benches print figures as
// ratios against a baseline measured in the same run; these keep the arithmetic the same in all of them.
import { readFileSync } from 'node:fs';

/** The median (the mean of the two middle values for an even count). */
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const stats = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length });
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** The 1, 5 and 15 minute load averages, printed beside figures measured on a shared machine. */
export const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
/** A progress logger to stderr, prefixed with the bench's name (stdout keeps the figures). */
export const benchLog = (name) => (m) => process.stderr.write(`[${name}] ${m}\n`);
