import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkspacePlanParams } from '../api/workspace.js';
import { createLocks } from '../host/locks.js';
import { silentLogger } from '../host/logger.js';
import type { GuestSession } from '../guest/access.js';
import { buildBundle } from './bundle.js';
import { planWorkspace } from './plan.js';
import { inspectRepo } from './repo.js';
import { createWorkspaceService } from './service.js';
import { g, makeRepo } from '../../test/gitrepo.fixture.js';
import { testVms } from '../../test/workspace-vms.fixture.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'banger-plan-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('workspace.plan', () => {
  const locks = createLocks();
  const noSession = (): GuestSession => {
    throw new Error('plan must not touch a VM');
  };
  const svc = createWorkspaceService({ vms: testVms(locks, noSession), locks, log: silentLogger });

  it('is the plan prepare builds from: same files, counts and commit', async () => {
    const host = await makeRepo(join(dir, 'r1'), { 'a.txt': 'a\n', 'bin/x': { content: '#!/bin/sh\n', mode: 0o755 }, l: { symlink: 'a.txt' } });
    await writeFile(join(host, 'a.txt'), 'edited\n');
    await writeFile(join(host, 'new.txt'), 'new\n');
    const view = await svc.plan(WorkspacePlanParams.parse({ hostPath: host, includeUntracked: true }));
    expect(view.files.map((f) => f.path)).toEqual(['a.txt', 'bin/x', 'l', 'new.txt']);
    expect(view.modified).toEqual(['a.txt']);
    const repo = await inspectRepo(host);
    const b = await buildBundle({ repo, plan: await planWorkspace(repo, { mode: 'shallow', includeUntracked: true }), tmpDir: dir });
    await b.cleanup();
    expect([b.fileCount, b.bytes, b.headCommit]).toEqual([view.fileCount, view.bytes, view.headCommit]);

    const summary = await svc.plan(WorkspacePlanParams.parse({ hostPath: host, includeUntracked: true, listFiles: false }));
    expect(summary).toEqual({ ...view, files: [] });
  });

  it('--from plans the commit tree; refusals are the same bad_request prepare gives', async () => {
    const host = await makeRepo(join(dir, 'r2'), { 'a.txt': 'a\n' });
    const first = (await g(host, 'rev-parse', 'HEAD')).trim();
    await writeFile(join(host, 'b.txt'), 'b\n');
    await g(host, 'add', 'b.txt');
    await g(host, 'commit', '-qm', 'b');
    const v = await svc.plan(WorkspacePlanParams.parse({ hostPath: host, branch: 'x', from: first }));
    expect([v.headCommit, v.files.map((f) => f.path)]).toEqual([first, ['a.txt']]);
    await expect(svc.plan(WorkspacePlanParams.parse({ hostPath: host, branch: 'bad..name' }))).rejects.toMatchObject({ code: 'bad_request' });
    await expect(svc.plan(WorkspacePlanParams.parse({ hostPath: host, branch: 'x', from: 'nope' }))).rejects.toMatchObject({ code: 'bad_request' });
    await expect(svc.plan(WorkspacePlanParams.parse({ hostPath: dir }))).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/not inside a git repository/) });
    expect(() => WorkspacePlanParams.parse({ hostPath: host, from: first })).toThrow(/--from needs --branch/);
  });
});
