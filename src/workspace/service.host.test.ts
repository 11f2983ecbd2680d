/**
 * Lock regressions (DESIGN.md, Locks), using the service's `importer` seam to stall an import and a
 * stand-in session for export. The host side (git, tar planning) is real.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkspaceExportParams, WorkspacePrepareParams } from '../api/workspace.js';
import { createLocks, type Locks } from '../host/locks.js';
import type { ExecHandle } from '../guest/connection.js';
import { silentLogger } from '../host/logger.js';
import type { GuestSession } from '../guest/access.js';
import type { Importer } from './importer.js';
import { createWorkspaceService } from './service.js';
import { makeRepo } from '../../test/gitrepo.fixture.js';
import { testVms } from '../../test/workspace-vms.fixture.js';

/** An import that waits until released; records how many run at once. */
function stallingImporter() {
  const waiting: Array<(err?: Error) => void> = [];
  let active = 0;
  const s = {
    calls: 0,
    maxActive: 0,
    order: [] as string[],
    started: [] as Array<() => void>,
    importer: (async (_session, _bundle, opts) => {
      s.calls++;
      active++;
      s.maxActive = Math.max(s.maxActive, active);
      s.order.push(`start ${opts.guestPath}`);
      for (const f of s.started.splice(0)) f();
      try {
        await new Promise<void>((resolve, reject) => waiting.push((err) => (err ? reject(err) : resolve())));
      } finally {
        s.order.push(`end ${opts.guestPath}`);
        active--;
      }
    }) as Importer,
    /** Resolves once the next import has started. */
    nextStart: () => new Promise<void>((r) => s.started.push(r)),
    release: () => waiting.shift()?.(),
    /** Ends the stalled import with an error, as a dropped SSH connection would. */
    fail: (err: Error) => waiting.shift()?.(err),
    pending: () => waiting.length,
  };
  return s;
}

/** A session whose exec prints an export with no changes, and records that it ran. */
function exportSession(log: string[]): GuestSession {
  return {
    exec: () => {
      log.push('export exec');
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      const exit = new Promise<{ code: number }>((r) => stdout.on('end', () => r({ code: 0 })));
      setImmediate(() => {
        stdout.end(Buffer.from(`${'a'.repeat(40)}\n`));
        stderr.end();
      });
      return { exit, stdout, stderr, stdin: new PassThrough(), kill: () => {}, resize: () => {} } as ExecHandle;
    },
    run: async () => {
      throw new Error('not used');
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 20));

describe('workspace locks', () => {
  let dir: string;
  let repo: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'banger-wsl-'));
    repo = await makeRepo(join(dir, 'repo'), { 'a.txt': 'a\n' });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function setup() {
    const locks: Locks = createLocks();
    const log: string[] = [];
    const vms = testVms(locks, () => exportSession(log));
    const stall = stallingImporter();
    const svc = createWorkspaceService({ vms, locks, log: silentLogger, importer: stall.importer, tmpDir: dir });
    const prepare = (guestPath: string) => svc.prepare(WorkspacePrepareParams.parse({ name: 'web', hostPath: repo, guestPath }));
    return { locks, log, vms, stall, svc, prepare };
  }

  it('while an import is stalled, the lifecycle lock is free and vm stop completes; the prepare then fails clearly', async () => {
    const { locks, vms, stall, prepare } = setup();
    const started = stall.nextStart();
    const p = prepare('/root/repo');
    p.catch(() => {});
    await started;
    expect(locks.workspace.isHeld(vms.rec.id)).toBe(true);
    expect(locks.vm.isHeld(vms.rec.id)).toBe(false);
    await expect(locks.vm.with(vms.rec.id, async () => 'taken')).resolves.toBe('taken');
    await vms.stop(); // takes locks.vm(id) like VmService.stop; must not wait for the import
    expect(vms.state).toBe('stopped');
    // stopping the VM drops its SSH connection: the import fails, and prepare says why
    stall.fail(new Error('lost the SSH connection to VM "web"'));
    await expect(p).rejects.toMatchObject({
      code: 'conflict',
      message: 'VM "web" was stopped during workspace prepare; nothing was recorded; start it (`banger vm start web`) and try again',
    });
    expect(vms.rec.workspace).toBeNull();
    expect(locks.workspace.isHeld(vms.rec.id)).toBe(false);
  });

  it('a VM deleted mid-import fails the prepare with a clear error and records nothing', async () => {
    const { locks, vms } = setup();
    const svc = createWorkspaceService({
      vms,
      locks,
      log: silentLogger,
      importer: async () => {
        await vms.remove();
      },
    });
    await expect(svc.prepare(WorkspacePrepareParams.parse({ name: 'web', hostPath: repo }))).rejects.toMatchObject({
      code: 'conflict',
      message: 'VM "web" was deleted during workspace prepare; nothing was recorded',
    });
  });

  it('three concurrent prepares on one VM import one at a time', async () => {
    const { stall, prepare, vms } = setup();
    const first = stall.nextStart();
    const all = [prepare('/w/1'), prepare('/w/2'), prepare('/w/3')];
    await first;
    for (let i = 0; i < 3; i++) {
      await tick();
      expect(stall.pending()).toBe(1); // exactly one import in progress, the others wait for the lock
      const next = i < 2 ? stall.nextStart() : Promise.resolve();
      stall.release();
      await next;
    }
    const results = await Promise.all(all);
    expect(stall.calls).toBe(3);
    expect(stall.maxActive).toBe(1);
    // never interleaved: each start is followed by its own end
    for (let i = 0; i < 6; i += 2) expect(stall.order[i + 1]).toBe(stall.order[i].replace('start', 'end'));
    expect(new Set(stall.order.filter((o) => o.startsWith('start'))).size).toBe(3);
    expect(results.map((r) => r.workspace.guestPath)).toEqual(['/w/1', '/w/2', '/w/3']);
    expect(vms.rec.workspace?.guestPath).toBe(stall.order[5].slice(4));
  });

  it('an export started during a stalled prepare waits for it, then sees the new workspace', async () => {
    const { stall, prepare, svc, log } = setup();
    const started = stall.nextStart();
    const p = prepare('/root/repo');
    await started;
    const e = svc.export(WorkspaceExportParams.parse({ name: 'web', nameOnly: true }), { write: () => {} });
    await tick();
    await tick();
    expect(log).toEqual([]); // export has not touched the guest yet
    stall.release();
    await p;
    const r = await e;
    expect(log).toEqual(['export exec']);
    expect(r).toMatchObject({ files: [], appliedTo: null });
  });

  it('prepare refuses a VM that is not running before doing any work', async () => {
    const { vms, stall, prepare } = setup();
    vms.state = 'stopped';
    await expect(prepare('/root/repo')).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/is stopped; run `banger vm start web` first/) });
    expect(stall.calls).toBe(0);
  });
});
