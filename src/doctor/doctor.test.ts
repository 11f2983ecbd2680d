import { describe, expect, it } from 'vitest';
import { BangerError } from '../api/errors.js';
import { resolvePaths } from '../store/paths.js';
import { daemonRows, doctorFailed } from './doctor.js';

const paths = resolvePaths({ HOME: '/home/u', XDG_STATE_HOME: '/s', XDG_RUNTIME_DIR: '/r' });
const status = { pid: 42, hypervisor: 'qemu', accel: 'tcg' } as never;

describe('doctor: the daemon rows', () => {
  it('a daemon that answers: its pid and driver, then its own rows', async () => {
    const rows = await daemonRows({
      paths,
      daemonStatus: async () => status,
      daemonChecks: async () => [{ name: 'image', verdict: 'warn', detail: 'not built yet' }],
    });
    expect(rows).toEqual([
      { name: 'daemon', verdict: 'pass', detail: 'pid 42, qemu with tcg' },
      { name: 'image', verdict: 'warn', detail: 'not built yet' },
    ]);
    expect(doctorFailed(rows)).toBe(false);
  });

  it('a daemon that does not answer: one failing row pointing at its log, and doctor fails', async () => {
    const rows = await daemonRows({
      paths,
      daemonStatus: async () => {
        throw new BangerError('unavailable', 'bangerd could not start (exit 1): bad config');
      },
      daemonChecks: async () => [],
    });
    expect(rows).toEqual([{ name: 'daemon', verdict: 'fail', detail: 'bangerd could not start (exit 1): bad config', fix: `see ${paths.daemonLog}` }]);
    expect(doctorFailed(rows)).toBe(true);
  });
});
