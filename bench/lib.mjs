// What every bench shares: the statistics its rows print and small helpers. Benches print figures as
// ratios against a baseline measured in the same run; these keep the arithmetic the same in all of them.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

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
/**
 * The environment of an install of its own under `root`: config, state, cache and runtime dirs all
 * inside it (an empty cache: the bench pays for every download and build). `extra` is added last.
 */
export const isolatedEnv = (root, extra = {}) => ({
  ...process.env,
  XDG_CONFIG_HOME: join(root, 'config'),
  XDG_STATE_HOME: join(root, 'state'),
  XDG_CACHE_HOME: join(root, 'cache'),
  XDG_RUNTIME_DIR: join(root, 'run'),
  ...extra,
});
/** `banger ARGS` on a test install (test/install.fixture.ts), timed: `{ ms, code, stdout, stderr }`; throws when it fails. */
export const timedCli = (inst) => async (args) => {
  const t0 = performance.now();
  const r = await inst.cli(args);
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(`banger ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return { ms, ...r };
};
/** Restarts the install's daemon as users run it: at log level info, not the fixture's debug. */
export const daemonAsUsersRunIt = async (inst) => {
  await inst.cli(['daemon', 'stop']);
  inst.env.BANGER_LOG_LEVEL = 'info';
  await inst.cli(['daemon', 'status'], { check: true });
};
