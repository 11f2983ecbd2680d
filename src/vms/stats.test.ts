/** stats_poll_interval's sampler against a real process (this one) and its /proc files. */
import { describe, expect, it } from 'vitest';
import { createStatsSampler } from './stats.js';

describe('stats sampler', () => {
  it('has a sample of the current process after two ticks, none for another pid, none once stale or gone', () => {
    let now = 1_000_000;
    let vms = [{ id: 'a', pid: process.pid }];
    const s = createStatsSampler({ intervalMs: 1000, running: () => vms, now: () => now });
    s.tick();
    expect(s.latest('a', process.pid)).toBeNull(); // one reading is not a rate yet
    const end = Date.now() + 150;
    while (Date.now() < end); // burn some CPU between the readings
    now += 1000;
    s.tick();
    const got = s.latest('a', process.pid)!;
    expect(got.cpuPercent).toBeGreaterThan(0);
    expect(got.rssBytes).toBeGreaterThan(1024 * 1024);
    expect(s.latest('a', process.pid + 1)).toBeNull(); // a restarted VM has a new pid
    now += 2001;
    expect(s.latest('a', process.pid)).toBeNull(); // older than two intervals
    now -= 2001;
    vms = [];
    s.tick();
    expect(s.latest('a', process.pid)).toBeNull(); // stopped: forgotten
  });
});
