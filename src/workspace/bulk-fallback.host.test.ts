/**
 * The bulk channel's fallbacks, with a local sshd standing in for the guest (it has no virtio port):
 * prepare offered a private bulk socket still works, over SSH, says so, and never connects to the
 * socket (the guest's reader must open the port first); a socket that is not the daemon's alone is
 * never used. The bulk path itself needs a real port: workspace/bulk.vm.test.ts.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkspacePrepareParams } from '../api/workspace.js';
import { createLocks } from '../host/locks.js';
import type { GuestConnection } from '../guest/connection.js';
import { silentLogger } from '../host/logger.js';
import { sshdUnavailableReason, startTestSshGuest, type TestSshGuest } from '../../test/sshd.fixture.js';
import { makeRepo } from '../../test/gitrepo.fixture.js';
import { testVms } from '../../test/workspace-vms.fixture.js';
import { createWorkspaceService } from './service.js';

const skipReason = await sshdUnavailableReason();

describe.skipIf(skipReason !== null)('bulk channel fallbacks (local sshd as the guest)', () => {
  let guest: TestSshGuest;
  let dir: string;
  let conn: GuestConnection;
  let server: Server;
  let sock: string;
  let connections = 0;
  let repos = 0;

  beforeAll(async () => {
    guest = await startTestSshGuest({ tmpPrefix: 'banger-bulkfb-' });
    dir = guest.dir;
    conn = await guest.connect({ alias: 'web.vm' });
    const run = mkdtempSync(join(dir, 'run-'));
    sock = join(run, 'bulk.sock');
    server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(sock, r));
  });
  afterAll(async () => {
    server?.close();
    await guest?.close();
  });

  async function prepareWith(bulkSocket: string, guestPath: string) {
    const locks = createLocks();
    const base = testVms(locks, () => conn);
    const vms = { ...base, session: async (n: string) => ({ ...(await base.session(n)), handles: { bulkSocket } }) };
    const svc = createWorkspaceService({ vms, locks, log: silentLogger });
    const host = await makeRepo(join(dir, `h-${++repos}`), { 'a.txt': 'a\n', 'bin/x.sh': { content: '#!/bin/sh\n', mode: 0o755 } });
    const copy: string[] = [];
    await svc.prepare(WorkspacePrepareParams.parse({ name: 'web', hostPath: host, guestPath }), (stage, message) => {
      if (stage === 'copy') copy.push(message);
    });
    return copy;
  }

  it('a guest without the port device: the copy goes over SSH, says so, and the socket is never connected to', async () => {
    chmodSync(sock, 0o600);
    const dest = join(dir, 'guest', 'one');
    const copy = await prepareWith(sock, dest);
    expect(copy).toContain('over SSH (the guest has no bulk port device)');
    expect(copy).not.toContain('over the bulk channel');
    expect(readFileSync(join(dest, 'a.txt'), 'utf8')).toBe('a\n');
    expect(connections).toBe(0);
  });

  it('a socket others could open is not used', async () => {
    chmodSync(sock, 0o666);
    const dest = join(dir, 'guest', 'two');
    const copy = await prepareWith(sock, dest);
    expect(copy.join('\n')).toMatch(/over SSH \(.*is not a private socket of this daemon's user; not used\)/);
    expect(existsSync(join(dest, 'a.txt'))).toBe(true);
    expect(connections).toBe(0);
  });

  it('no socket at all (an old VM, a driver without the port): over SSH', async () => {
    const dest = join(dir, 'guest', 'three');
    const copy = await prepareWith(join(dir, 'missing.sock'), dest);
    expect(copy.join('\n')).toMatch(/over SSH \(no bulk socket \(ENOENT\)\)/);
    expect(existsSync(join(dest, 'a.txt'))).toBe(true);
  });
});
