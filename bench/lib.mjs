// What every bench shares: the statistics its rows print and small helpers. Benches print figures as
// ratios against a baseline measured in the same run; these keep the arithmetic the same in all of them.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

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
/** Nearest-rank percentiles with min, max and mean (latency rows: p50/p90/p99). */
export const percentiles = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const pct = (p) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
  return { n: s.length, p50: pct(50), p90: pct(90), p99: pct(99), min: s[0], max: s[s.length - 1], mean: s.reduce((a, b) => a + b, 0) / s.length };
};
/** `12.34 s` from milliseconds. */
export const sec = (ms, digits = 2) => `${(ms / 1000).toFixed(digits)} s`;
/** `123 MiB` from bytes; `?` for a figure that could not be read (null). */
export const mib = (bytes, digits = 0) => (bytes === null || bytes === undefined ? '?' : `${(bytes / 2 ** 20).toFixed(digits)} MiB`);
/** A TCP port free on 127.0.0.1 right now (for a hand-started server or a hostfwd). */
export const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
