/**
 * `export --apply` against a hostile or huge guest diff, through the real service, real git and
 * a real SSH connection to a private sshd on 127.0.0.1 (the "guest" is a temp directory here, as
 * in pipeline.host.test.ts): the patch is spilled to a private temp file instead of memory and removed
 * after, and a guest symlink pointing out of the repo is refused before anything is applied.
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkspaceExportParams, WorkspacePrepareParams } from '../api/workspace.js';
import type { GuestConnection } from '../guest/connection.js';
import { sshdUnavailableReason, startTestSshGuest, type TestSshGuest } from '../../test/sshd.fixture.js';
import { createLocks } from '../host/locks.js';
import { silentLogger } from '../host/logger.js';
import { createWorkspaceService, type WorkspaceService } from './service.js';
import { g, makeRepo } from '../../test/gitrepo.fixture.js';
import { testVms } from '../../test/workspace-vms.fixture.js';

const skipReason = await sshdUnavailableReason();
if (skipReason) console.log(`skipping export --apply tests: ${skipReason}`);

describe.skipIf(skipReason !== null)('export --apply over a real sshd', () => {
  let guest: TestSshGuest;
  let dir: string;
  let spillParent: string;
  let conn: GuestConnection;
  let svc: WorkspaceService;

  beforeAll(async () => {
    guest = await startTestSshGuest({ tmpPrefix: 'banger-wsa-' });
    dir = guest.dir;
    spillParent = join(dir, 'spill');
    await mkdir(spillParent);
    conn = await guest.connect({ alias: 'web.vm' });
    const locks = createLocks();
    svc = createWorkspaceService({ vms: testVms(locks, () => conn), locks, log: silentLogger, tmpDir: spillParent });
  });
  afterAll(async () => {
    await guest?.close();
  });

  const prepare = (hostPath: string, guestPath: string) => svc.prepare(WorkspacePrepareParams.parse({ name: 'web', hostPath, guestPath }));
  const apply = () => svc.export(WorkspaceExportParams.parse({ name: 'web', apply: true }), { write: () => {} });

  it('a 64 MiB patch is spilled to a private temp file, not held in memory, and the file is removed after', async () => {
    const host = await makeRepo(join(dir, 'big'), { 'a.txt': 'a\n' });
    const guest = join(dir, 'guest-big');
    await prepare(host, guest);
    const line = `${'0123456789abcdef'.repeat(7)}\n`;
    await writeFile(join(guest, 'big.txt'), line.repeat(Math.ceil((64 * 1024 * 1024) / line.length)));

    let spillSeen: { dir: number; file: number } | null = null;
    const base = process.memoryUsage().arrayBuffers;
    let peak = base;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
      for (const d of readdirSync(spillParent)) {
        try {
          spillSeen ??= { dir: lstatSync(join(spillParent, d)).mode & 0o777, file: lstatSync(join(spillParent, d, 'patch')).mode & 0o777 };
        } catch {
          /* not created yet */
        }
      }
    }, 5);
    let r;
    try {
      r = await apply();
    } finally {
      clearInterval(timer);
    }
    const grewMiB = (peak - base) / 1024 / 1024;
    console.log(`export --apply of a ${(r.bytes / 1024 / 1024).toFixed(0)} MiB patch: daemon buffers grew at most ${grewMiB.toFixed(1)} MiB`);
    expect(r.appliedTo).toBe(host);
    expect(r.bytes).toBeGreaterThan(64 * 1024 * 1024);
    // Never the whole patch (the old code held it twice: chunks, then their concatenation); the
    // growth seen is chunks not yet garbage-collected.
    expect(grewMiB).toBeLessThan(r.bytes / 1024 / 1024 - 8);
    expect(spillSeen).toEqual({ dir: 0o700, file: 0o600 });
    expect(readdirSync(spillParent)).toEqual([]);
    expect(lstatSync(join(host, 'big.txt')).size).toBe(lstatSync(join(guest, 'big.txt')).size);
  }, 120_000);

  it('a guest printing one endless record is refused within moments; the event loop keeps running', async () => {
    // The guest side is replaced at the session seam: the real SSH channel runs this instead of the export script.
    const hostile = `printf '%s\\n' ${'a'.repeat(40)}; printf ':100644 100644 x M\\000'; head -c ${65 * 1024 * 1024} /dev/zero | tr '\\0' a`;
    const locks = createLocks();
    const session = new Proxy(conn, { get: (t, k) => (k === 'exec' ? (_cmd: string, o?: object) => t.exec(hostile, o) : Reflect.get(t, k)) });
    const vms = testVms(locks, () => session);
    vms.setWorkspace(vms.rec.id, { guestPath: '/nowhere', hostSource: '/nowhere', headCommit: 'a'.repeat(40), branch: null, mode: 'shallow', preparedAt: new Date().toISOString() });
    const evil = createWorkspaceService({ vms, locks, log: silentLogger, tmpDir: spillParent });
    let last = performance.now();
    let maxLag = 0;
    const tick = setInterval(() => {
      const now = performance.now();
      maxLag = Math.max(maxLag, now - last - 10);
      last = now;
    }, 10);
    const t0 = performance.now();
    try {
      await expect(evil.export(WorkspaceExportParams.parse({ name: 'web' }), { write: () => {} })).rejects.toMatchObject({
        message: expect.stringMatching(/refused: one record of the list of changed files is too long/),
      });
    } finally {
      clearInterval(tick);
    }
    const ms = performance.now() - t0;
    console.log(`endless record from the guest: refused after ${ms.toFixed(0)} ms, worst event-loop lag ${maxLag.toFixed(0)} ms`);
    expect(ms).toBeLessThan(10_000);
    expect(maxLag).toBeLessThan(1_000);
  }, 120_000);

  it('a guest symlink to a host path outside the repo is refused, nothing applied, nothing left behind', async () => {
    const host = await makeRepo(join(dir, 'links'), { 'a.txt': 'a\n', 'sub/b.txt': 'b\n' });
    const guest = join(dir, 'guest-links');
    await prepare(host, guest);
    await symlink('/etc', join(guest, 'etc'));
    await symlink('../../../../outside', join(guest, 'sub', 'up'));
    await symlink('../a.txt', join(guest, 'sub', 'fine'));
    await writeFile(join(guest, 'a.txt'), 'changed\n');
    await expect(apply()).rejects.toMatchObject({
      code: 'bad_request',
      message: expect.stringMatching(/symlinks that point outside the repo \("etc": a symlink to the absolute path "\/etc"; "sub\/up": .*outside the repo\); nothing was applied/),
    });
    expect(existsSync(join(host, 'etc'))).toBe(false);
    expect(readFileSync(join(host, 'a.txt'), 'utf8')).toBe('a\n');
    expect(await g(host, 'status', '--porcelain')).toBe('');
    expect(readdirSync(spillParent)).toEqual([]);
  });
});
