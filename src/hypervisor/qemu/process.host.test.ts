import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnProcess } from '../../host/exec.js';
import { parseStatState, processMatches, processState, readCmdline, tailFile, waitUntil } from './process.js';

describe('parseStatState', () => {
  it.each([
    ['123 (qemu-system-x86) S 1 123 123 0 -1', 'S'],
    ['77 (a) b) c) Z 1 2 3', 'Z'],
    ['9 (sleep) R 1', 'R'],
    ['garbage', undefined],
  ])('%s', (stat, state) => {
    expect(parseStatState(stat)).toBe(state);
  });
});

describe('live processes', () => {
  it('matches a process by a marker in its argv, and not after it exits', async () => {
    const marker = `banger-test-${process.pid}-${Date.now()}`;
    const p = spawnProcess(['sh', '-c', 'sleep 30', marker]);
    try {
      expect(processState(p.pid)).toBe('running');
      expect(readCmdline(p.pid)).toEqual(['sh', '-c', 'sleep 30', marker]);
      expect(processMatches(p.pid, marker)).toBe(true);
      expect(processMatches(p.pid, 'some-other-vm')).toBe(false);
    } finally {
      p.kill('SIGKILL');
      await p.exit;
    }
    expect(await waitUntil(() => processState(p.pid) === 'gone', 2000)).toBe(true);
    expect(processMatches(p.pid, marker)).toBe(false);
    expect(readCmdline(p.pid)).toBeNull();
  });

  it('treats nonsense pids as gone', () => {
    expect(processState(0)).toBe('gone');
    expect(processState(-5)).toBe('gone');
    expect(processState(2 ** 22 + 7)).toBe('gone');
  });
});

describe('tailFile', () => {
  it('returns the last lines, dropping a partial first line and trailing blanks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'banger-tail-'));
    try {
      const f = join(dir, 'log');
      await writeFile(f, Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n') + '\n\n');
      expect(await tailFile(f, 3)).toBe('line 97\nline 98\nline 99');
      expect(await tailFile(f, 1000, 20)).toBe('line 98\nline 99');
      expect(await tailFile(join(dir, 'missing'))).toBe('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('waitUntil gives up after the timeout', async () => {
    const t = Date.now();
    expect(await waitUntil(() => false, 120, 20)).toBe(false);
    expect(Date.now() - t).toBeGreaterThanOrEqual(110);
  });
});
