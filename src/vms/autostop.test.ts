import { describe, expect, it } from 'vitest';
import { silentLogger } from '../host/logger.js';
import { createActivityStore } from '../store/activity.js';
import { openDb } from '../store/db.js';
import { createVmStore, type VmRecord } from '../store/vms.js';
import { autoStopAt, checkIntervalMs, checkOnce, createActivity, isStale, lastUse, type AutoStopVms } from './autostop.js';
import { cpuOver } from '../host/procstat.js';

const T = Date.parse('2026-01-01T00:00:00Z');

describe('who is stale', () => {
  it.each([
    [{ lastUseMs: T, nowMs: T + 19_999, staleMs: 20_000, inFlight: 0 }, false],
    [{ lastUseMs: T, nowMs: T + 20_000, staleMs: 20_000, inFlight: 0 }, true],
    [{ lastUseMs: T, nowMs: T + 3_600_000, staleMs: 0, inFlight: 0 }, false], // "0": off
    [{ lastUseMs: T, nowMs: T + 3_600_000, staleMs: 20_000, inFlight: 1 }, false], // an exec is running
    [{ lastUseMs: NaN, nowMs: T, staleMs: 20_000, inFlight: 0 }, false],
  ])('%j → %s', (p, stale) => {
    expect(isStale(p)).toBe(stale);
  });

  it('says when a running VM will be stopped, and nothing when off or not running', () => {
    expect(autoStopAt({ lastUseMs: T, staleMs: 90_000, running: true })).toBe('2026-01-01T00:01:30.000Z');
    expect(autoStopAt({ lastUseMs: T, staleMs: 0, running: true })).toBeNull();
    expect(autoStopAt({ lastUseMs: T, staleMs: 90_000, running: false })).toBeNull();
  });

  it('counts from the recorded use, else the last lifecycle change', () => {
    expect(lastUse('2026-01-01T00:00:10Z', '2026-01-01T00:00:00Z')).toBe(T + 10_000);
    expect(lastUse(null, '2026-01-01T00:00:00Z')).toBe(T);
  });

  it.each([
    [20_000, 5000],
    [2000, 1000],
    [7_200_000, 60_000],
  ])('checks every %d ms setting each %d ms', (stale, every) => {
    expect(checkIntervalMs(stale)).toBe(every);
  });

  it('cpuOver: ticks per elapsed time as a share of one core', () => {
    expect(cpuOver(100, 150, 1000)).toBe(50);
    expect(cpuOver(100, 100, 1000)).toBe(0);
    expect(cpuOver(100, 90, 1000)).toBeNull(); // a new process
    expect(cpuOver(100, 150, 0)).toBeNull();
  });
});

describe('activity and the checker (real SQLite)', () => {
  function setup() {
    const db = openDb(':memory:');
    db.exec(`INSERT INTO kernels VALUES ('k', 's', '{}', 't'); INSERT INTO images VALUES ('i', 's', 'k', '{}', 't');`);
    const vms = createVmStore(db, () => '2026-01-01T00:00:00.000Z');
    const base = { image: 'i', kernel: 'k', vcpu: 1, memoryMib: 512, diskSizeBytes: 1, network: { mode: 'user' as const, egress: true, nat: false }, state: 'running' as const, workspace: null };
    vms.insert({ id: 'a', name: 'idle', ...base });
    vms.insert({ id: 'b', name: 'used', ...base });
    let now = T;
    const store = createActivityStore(db, () => new Date(now));
    const activity = createActivity({ store, staleMs: 60_000, now: () => now });
    const stopped: string[] = [];
    // The service seam: what the checker asks of the VM service (lock + graceful stop are the service's).
    const seam: AutoStopVms = {
      list: () => vms.list(),
      async stopIfIdle(name, stillIdle) {
        const rec = vms.findByName(name)!;
        if (!(await stillIdle(rec as VmRecord, null))) return false;
        stopped.push(name);
        return true;
      },
    };
    return { db, activity, seam, stopped, at: (ms: number) => (now = T + ms), store };
  }

  it('stops only VMs unused for the setting; a use or a running exec keeps a VM; uses are durable', async () => {
    const s = setup();
    s.activity.touch('a');
    s.activity.touch('b');
    expect(s.activity.describe({ id: 'a', updatedAt: '2026-01-01T00:00:00.000Z' }, true)).toEqual({
      lastActiveAt: '2026-01-01T00:00:00.000Z',
      autoStopAt: '2026-01-01T00:01:00.000Z',
    });
    s.at(50_000);
    s.activity.touch('b');
    s.at(60_000);
    expect(await checkOnce(s.seam, s.activity, silentLogger)).toEqual(['idle']);
    // 'used' goes stale at 110 s, unless an exec is running
    s.at(200_000);
    const release = s.activity.hold('b');
    s.at(400_000);
    expect(await checkOnce(s.seam, s.activity, silentLogger)).toEqual(['idle']); // the seam keeps 'idle' running; 'b' is held
    release();
    expect(s.store.get('b')).toBe('2026-01-01T00:06:40.000Z'); // the end of the exec is a use
    s.at(470_000);
    expect(await checkOnce(s.seam, s.activity, silentLogger)).toEqual(['idle', 'used']);
  });
});
