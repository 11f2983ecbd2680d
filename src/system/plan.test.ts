import { describe, expect, it } from 'vitest';
import { systemPaths } from '../store/paths.js';
import { missingDirs, planInstall, planUninstall, withCreatedDirs, type InstallPlanInput } from './plan.js';

const sys = systemPaths({}, '/tmp/r');
const base: InstallPlanInput = {
  owner: { name: 'alice', uid: 1001, gid: 1001, home: '/home/alice' },
  previous: null,
  sys,
  binaries: { node: '/usr/bin/node', daemonEntry: '/opt/b/dist/daemon/main.js', helperEntry: '/opt/b/dist/rootd/main.js' },
  freshId: 'cafe0001',
  now: new Date('2026-01-02T03:04:05Z'),
};

describe('planInstall', () => {
  it('a fresh install: new id, both units then the record, sockets and state dir', () => {
    const p = planInstall(base);
    expect(p.record.installId).toBe('cafe0001');
    expect(p.units.map((u) => u.path)).toEqual(['/tmp/r/etc/systemd/system/bangerd-root.service', '/tmp/r/etc/systemd/system/bangerd.service']);
    expect(p.units.every((u) => u.mode === 0o644)).toBe(true);
    expect(p.record.files).toEqual([...p.units.map((u) => u.path), '/tmp/r/etc/banger/install.json']);
    expect(p.record).toMatchObject({ owner: 'alice', uid: 1001, gid: 1001, stateDir: '/home/alice/.local/state/banger', daemonSocket: '/tmp/r/run/banger/bangerd.sock', helperSocket: '/tmp/r/run/banger-root/helper.sock' });
    expect(p.notes).toEqual([]);
  });

  it("records the owner's bridge CIDR and jail base for bangerd-root's validation", () => {
    const p = planInstall({ ...base, ownerNetwork: { cidr: '10.77.0.0/24', jailerBase: '/home/alice/.local/state/banger/jailer' } });
    expect(p.record).toMatchObject({ cidr: '10.77.0.0/24', jailerBase: '/home/alice/.local/state/banger/jailer' });
    expect(planInstall(base).record.cidr).toBeUndefined();
  });

  it('a re-install keeps the install ID, the created dirs and any file an earlier install listed', () => {
    const first = withCreatedDirs(planInstall(base).record, ['/tmp/r/etc/banger']);
    const again = planInstall({ ...base, previous: { ...first, files: [...first.files, '/tmp/r/etc/banger/old.conf'] }, freshId: 'ffff0000', owner: { ...base.owner, name: 'bob', uid: 1002 } });
    expect(again.record.installId).toBe('cafe0001');
    expect(again.record.dirs).toEqual(['/tmp/r/etc/banger']);
    expect(again.record.files).toContain('/tmp/r/etc/banger/old.conf');
    expect(again.notes).toEqual(['re-install: keeping install ID cafe0001', 'owner changes from alice to bob']);
  });
});

describe('missingDirs', () => {
  it.each([
    ['nothing exists under the root', [], ['/tmp/r/etc', '/tmp/r/etc/systemd', '/tmp/r/etc/systemd/system', '/tmp/r/etc/banger']],
    ['/etc and the unit dir exist', ['/tmp/r/etc', '/tmp/r/etc/systemd', '/tmp/r/etc/systemd/system'], ['/tmp/r/etc/banger']],
    ['everything exists', ['/tmp/r/etc', '/tmp/r/etc/systemd', '/tmp/r/etc/systemd/system', '/tmp/r/etc/banger'], []],
  ])('%s', (_n, existing, want) => {
    const files = ['/tmp/r/etc/systemd/system/a.service', '/tmp/r/etc/systemd/system/b.service', '/tmp/r/etc/banger/install.json'];
    expect(missingDirs(files, '/tmp/r', (p) => existing.includes(p))).toEqual(want);
  });
});

describe('planUninstall', () => {
  const record = withCreatedDirs(planInstall(base).record, ['/tmp/r/etc', '/tmp/r/etc/systemd', '/tmp/r/etc/systemd/system', '/tmp/r/etc/banger']);

  it('removes the record last and created dirs deepest first', () => {
    const p = planUninstall(record, sys);
    expect(p.files.at(-1)).toBe('/tmp/r/etc/banger/install.json');
    expect(p.files).toHaveLength(3);
    expect(p.dirs).toEqual(['/tmp/r/etc/systemd/system', '/tmp/r/etc/systemd', '/tmp/r/etc/banger', '/tmp/r/etc']);
  });

  it('only /etc/banger when install created no directory', () => {
    expect(planUninstall({ ...record, dirs: undefined }, sys).dirs).toEqual(['/tmp/r/etc/banger']);
  });

  it.each([
    ['a file outside banger\'s directories', { files: ['/tmp/r/etc/passwd'] }, /lists \/tmp\/r\/etc\/passwd, outside/],
    ['a path escaping with ..', { files: ['/tmp/r/etc/banger/../shadow'] }, /outside/],
    ['a directory outside the root', { dirs: ['/etc'] }, /outside the install root/],
  ])('refuses a record listing %s', (_n, patch, msg) => {
    expect(() => planUninstall({ ...record, ...patch }, sys)).toThrow(msg);
  });
});
