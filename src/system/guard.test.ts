import { describe, expect, it } from 'vitest';
import { systemInstallClash } from './guard.js';
import type { InstallRecord } from './record.js';

const record: InstallRecord = {
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

describe('systemInstallClash', () => {
  it.each<[string, InstallRecord | null, number, string, string, boolean]>([
    ['no system install', null, 1001, '/run/user/1001/banger/bangerd.sock', record.stateDir, false],
    ['the system daemon itself', record, 1001, record.daemonSocket, record.stateDir, false],
    ['another user', record, 1002, '/run/user/1002/banger/bangerd.sock', '/home/bob/.local/state/banger', false],
    ['the owner with a separate state dir', record, 1001, '/tmp/x/banger/bangerd.sock', '/tmp/x/state/banger', false],
    ['the owner on the same state dir, another socket', record, 1001, '/run/user/1001/banger/bangerd.sock', record.stateDir, true],
  ])('%s', (_n, rec, uid, socket, stateDir, clash) => {
    const msg = systemInstallClash(rec, uid, socket, stateDir);
    expect(msg !== null).toBe(clash);
    if (clash) expect(msg).toContain('XDG_STATE_HOME');
  });
});
