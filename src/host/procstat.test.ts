import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCpuTicks, parseRssBytes, sampleProcess } from './procstat.js';

describe('procstat', () => {
  it('parses utime+stime even when the command name has spaces and parens', () => {
    const stat = '1234 (qemu (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 100 0 0';
    expect(parseCpuTicks(stat)).toBe(325);
  });
  it('parses VmRSS', () => {
    expect(parseRssBytes('Name:\tnode\nVmRSS:\t   2048 kB\n')).toBe(2048 * 1024);
    expect(parseRssBytes('Name:\tx\n')).toBeNull();
  });
  it('samples this very process', async () => {
    const s = await sampleProcess(process.pid, 50);
    expect(s.rssBytes).toBeGreaterThan(1024 * 1024);
    expect(s.cpuPercent).not.toBeNull();
    expect(parseCpuTicks(readFileSync('/proc/self/stat', 'utf8'))).toBeGreaterThan(0);
  });
});
