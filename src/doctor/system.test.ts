import { describe, expect, it } from 'vitest';
import type { SystemStatus } from '../system/status.js';
import { systemChecks } from './system.js';

const record: NonNullable<SystemStatus['record']> = {
  version: 1,
  installId: '0a1b2c3d',
  owner: 'alice',
  uid: 1001,
  gid: 1001,
  home: '/home/alice',
  stateDir: '/home/alice/.local/state/banger',
  daemonSocket: '/run/banger/bangerd.sock',
  helperSocket: '/run/banger-root/helper.sock',
  files: [],
  installedAt: '2026-01-01T00:00:00Z',
};
const unit = (name: string, patch: Partial<SystemStatus['units'][number]> = {}) => ({ unit: name, path: `/etc/systemd/system/${name}`, present: true, matches: true, missingHardening: [], state: 'active', ...patch });
const healthy: SystemStatus = {
  installed: true,
  recordFile: '/etc/banger/install.json',
  record,
  units: [unit('bangerd-root.service'), unit('bangerd.service')],
  daemon: { socket: record.daemonSocket, answering: true, detail: 'pid 1' },
  helper: { socket: record.helperSocket, answering: true, detail: 'version 0.1.0, install ID 0a1b2c3d' },
};
const none: SystemStatus = { installed: false, recordFile: '/etc/banger/install.json', record: null, units: [], daemon: null, helper: null };

const verdicts = (s: SystemStatus, uid: number) => systemChecks(s, uid).map((c) => `${c.verdict} ${c.name}`);

describe('systemChecks', () => {
  it.each<[string, SystemStatus, number, string[]]>([
    ['no install, not root: bridge mode needs the install', none, 1001, ['warn system install']],
    ['no install, as root: fine', none, 0, ['pass system install']],
    ['an unreadable record', { ...none, recordError: 'bad JSON' }, 1001, ['fail system install']],
    ['a healthy install', healthy, 1001, ['pass system install', 'pass bangerd-root.service', 'pass bangerd.service', 'pass root helper']],
    ['a unit file missing', { ...healthy, units: [unit('bangerd-root.service'), unit('bangerd.service', { present: false, matches: null, state: 'inactive' })] }, 1001, ['pass system install', 'pass bangerd-root.service', 'fail bangerd.service', 'pass root helper']],
    ['a hardening line removed by hand', { ...healthy, units: [unit('bangerd-root.service', { matches: false, missingHardening: ['NoNewPrivileges=yes'] }), unit('bangerd.service')] }, 1001, ['pass system install', 'fail bangerd-root.service', 'pass bangerd.service', 'pass root helper']],
    ['a unit differing only in non-hardening lines', { ...healthy, units: [unit('bangerd-root.service', { matches: false }), unit('bangerd.service')] }, 1001, ['pass system install', 'warn bangerd-root.service', 'pass bangerd.service', 'pass root helper']],
    ['a failed unit and a silent helper', { ...healthy, units: [unit('bangerd-root.service', { state: 'failed' }), unit('bangerd.service')], helper: { ...healthy.helper!, answering: false, detail: 'ENOENT' } }, 1001, ['pass system install', 'pass bangerd-root.service', 'fail bangerd-root.service state', 'pass bangerd.service', 'fail root helper']],
    ['no systemd to ask', { ...healthy, units: [unit('bangerd-root.service', { state: 'unknown' }), unit('bangerd.service', { state: 'unknown' })] }, 1001, ['pass system install', 'pass bangerd-root.service', 'warn bangerd-root.service state', 'pass bangerd.service', 'warn bangerd.service state', 'pass root helper']],
    ['another user cannot ask the helper', { ...healthy, helper: { ...healthy.helper!, answering: false, detail: 'refused' } }, 1500, ['pass system install', 'pass bangerd-root.service', 'pass bangerd.service', 'warn root helper']],
  ])('%s', (_n, s, uid, want) => expect(verdicts(s, uid)).toEqual(want));

  it('the no-install row names the command', () => {
    expect(systemChecks(none, 1001)[0].fix).toContain('sudo banger system install');
  });
  it('a missing hardening line is named', () => {
    const s = { ...healthy, units: [unit('bangerd-root.service', { matches: false, missingHardening: ['ProtectHome=tmpfs'] }), unit('bangerd.service')] };
    expect(systemChecks(s, 1001)[1].detail).toContain('ProtectHome=tmpfs');
  });
});
