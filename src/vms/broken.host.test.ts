/**
 * One bad VM never takes the rest down (issue 11 items 2 and 3), through the real CLI, daemon and
 * SQLite, no VM booted: a row older code wrote with a size the schema refuses, and a corrupt
 * handles.json in another VM's directory. `vm list`, `daemon status`, `daemon stop` and a daemon
 * restart all work; both VMs show as broken with the reason, and both can be deleted.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Install } from '../../test/install.fixture.js';
import { installWithVmRows } from '../../test/vmrows.fixture.js';

let inst: Install;
beforeAll(async () => {
  // 99999999999T: what `vm create --disk-size 99999999999T` stored before sizes were bounded.
  inst = await installWithVmRows('/tmp/bb-', [
    { id: 'aaaaaaaaaaaa', name: 'huge', diskSizeBytes: 99999999999 * 1024 ** 4, state: 'stopped' },
    { id: 'bbbbbbbbbbbb', name: 'garbled', diskSizeBytes: 8 * 1024 ** 3, state: 'running' },
  ]);
  mkdirSync(join(inst.stateDir, 'vms', 'bbbbbbbbbbbb'), { recursive: true });
  writeFileSync(join(inst.stateDir, 'vms', 'bbbbbbbbbbbb', 'handles.json'), '{"pid": 12');
}, 120_000);
afterAll(async () => {
  await inst?.destroy();
});

type Listed = { name: string; id: string; state: string; reasons: string[] };
const listed = async (): Promise<Listed[]> => {
  const r = await inst.cli(['vm', 'list', '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Listed[];
};

describe('an unreadable VM row and a corrupt handles.json', () => {
  it('list, status, stop and a restart work; both VMs show as broken with the reason', async () => {
    // The daemon starts with both in place (the CLI starts it on first use).
    const vms = await listed();
    expect(vms.map((v) => [v.name, v.id, v.state])).toEqual([
      ['garbled', 'bbbbbbbbbbbb', 'broken'],
      ['huge', 'aaaaaaaaaaaa', 'broken'],
    ]);
    expect(vms[0].reasons.join(' ')).toMatch(/handles\.json is not JSON/);
    expect(vms[1].reasons.join(' ')).toMatch(/diskSizeBytes.*banger vm delete huge/);

    const st = await inst.cli(['daemon', 'status', '--json']);
    expect(st.code).toBe(0);
    expect((JSON.parse(st.stdout) as { vmsRunning: number }).vmsRunning).toBe(0);
    expect((await inst.cli(['vm', 'list'])).stdout).toMatch(/huge.*broken/);
    const show = await inst.cli(['vm', 'show', 'huge']);
    expect(show.code).toBe(0);
    expect((JSON.parse(show.stdout) as Listed).state).toBe('broken');

    // Other operations on the unreadable row refuse clearly instead of failing obscurely.
    const start = await inst.cli(['vm', 'start', 'huge']);
    expect(start.code).not.toBe(0);
    expect(start.stderr).toMatch(/cannot be read.*banger vm delete huge/);

    expect((await inst.cli(['daemon', 'stop'])).code).toBe(0);
    expect((await listed()).map((v) => v.state)).toEqual(['broken', 'broken']); // a restarted daemon
  });

  it('both can be deleted, leaving nothing behind', async () => {
    for (const name of ['huge', 'garbled']) {
      const del = await inst.cli(['vm', 'delete', name]);
      expect(del.stderr).not.toMatch(/error/i);
      expect(del.code).toBe(0);
    }
    expect(await listed()).toEqual([]);
    expect(existsSync(join(inst.stateDir, 'vms', 'bbbbbbbbbbbb'))).toBe(false);
  });
});
