import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isZombie, parseCpuTicks, parseRssBytes, parseStat, readCmdline, readStat, readUsage, sampleProcess } from './procstat.js';

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

describe('parseStat: the one /proc/PID/stat parser', () => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3)); // field N holds "N"
  it.each([
    ['1234 (my (odd) cmd) ', 'my (odd) cmd'],
    ['1234 (sleep) ', 'sleep'],
    ['1234 (a) b) c) ', 'a) b) c'],
  ])('%s…: every field after the command name, whatever it holds', (head, comm) => {
    const s = parseStat(`${head}${['Z', ...fields.slice(1)].join(' ')}`);
    expect(s).toEqual({ pid: 1234, comm, state: 'Z', ppid: 4, utime: 14, stime: 15, startTime: '22' });
    expect(isZombie(s!)).toBe(true);
  });
  it.each(['garbage', '12 (x)', ''])('%j is not a stat line', (text) => {
    expect(parseStat(text)).toBeNull();
  });
  it('reads this process: running, its parent, its argv', () => {
    const me = readStat(process.pid)!;
    expect(me).toMatchObject({ pid: process.pid, ppid: process.ppid });
    expect(isZombie(me)).toBe(false);
    expect(readCmdline(process.pid)?.[0]).toMatch(/node/);
    expect(readUsage(process.pid)?.rssBytes).toBeGreaterThan(1024 * 1024);
  });
  it('a pid that is not there, or no pid at all: null', () => {
    for (const pid of [0, -5, 2 ** 22 + 7]) {
      expect(readStat(pid)).toBeNull();
      expect(readCmdline(pid)).toBeNull();
      expect(readUsage(pid)).toBeNull();
    }
  });
});
