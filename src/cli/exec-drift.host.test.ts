/**
 * `banger vm exec NAME -- CMD` in a workspace whose host repo moved on (issue 13): one API call, the
 * daemon's drift check inside it, the warning on stderr before the command's output. The real CLI
 * (bin/banger), the real server, dispatch and vm.exec handler with the real drift check (a real git
 * repo), the real exec verb over a real sshd on 127.0.0.1 (no VM). The seam is what the exec verb asks
 * for: doubles handing out the VM's record and the guest connection (as exec-backpressure.host.test.ts).
 * Needs `node scripts/build.mjs`.
 */
import { mkdirSync, renameSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BangerError } from '../api/errors.js';
import type { Workspace } from '../api/vm.js';
import { createDispatch, type Handlers } from '../daemon/dispatch.js';
import { startServer } from '../daemon/server.js';
import { vmHandlers } from '../daemon/vm-handlers.js';
import type { GuestConnection } from '../guest/connection.js';
import { run } from '../host/exec.js';
import { createLocks } from '../host/locks.js';
import { silentLogger } from '../host/logger.js';
import { createAccess } from '../vms/access.js';
import type { VmContext, VmService } from '../vms/contracts.js';
import type { Machine } from '../vms/machine.js';
import type { VmView } from '../vms/view.js';
import { workspaceDrift } from '../workspace/drift.js';
import { commitAll, g, makeRepo, writeFiles } from '../../test/gitrepo.fixture.js';
import { REPO } from '../../test/install.fixture.js';
import { sshdUnavailableReason, startTestSshGuest, type TestSshGuest } from '../../test/sshd.fixture.js';

const skipReason = await sshdUnavailableReason();
if (skipReason) console.log(`skipping vm exec drift test: ${skipReason}`);

describe.skipIf(skipReason !== null)('vm exec: the workspace drift warning comes with the one vm.exec call', () => {
  let guest: TestSshGuest;
  let dir: string;
  let conn: GuestConnection;
  let server: Server;
  let repo: string;
  let guestDir: string;
  let prepared: string;
  const rec: { id: string; name: string; workspace: Workspace | null } = { id: 'dx', name: 'dx', workspace: null };
  const calls: Array<{ method: string; params: Record<string, unknown> }> = [];
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    guest = await startTestSshGuest({ tmpPrefix: '/tmp/bxd-' }); // short: the socket path stays under 108 bytes
    dir = guest.dir;
    conn = await guest.connect({ alias: 'dx.vm' });
    repo = join(dir, 'repo');
    await makeRepo(repo, { 'a.txt': 'a\n' });
    prepared = (await g(repo, 'rev-parse', 'HEAD')).trim();
    guestDir = join(dir, 'guest'); // the "guest" is this host: its workspace directory
    mkdirSync(guestDir);
    const handles = { ssh: { host: guest.sshd.host, port: guest.sshd.port } };
    const vmCtx = { store: { get: () => rec }, locks: createLocks(), guest: { open: async () => conn }, log: silentLogger, activity: { touch() {}, hold: () => () => {} } };
    const view = { lookup: () => rec, requireRunning: () => handles };
    const vms = { lookup: () => rec, exec: createAccess(vmCtx as unknown as VmContext, view as unknown as VmView, {} as Machine).exec } as unknown as VmService;
    const exec = vmHandlers(vms, { paths: {} as never, workspaceDrift })['vm.exec'];
    const handlers = new Proxy({} as Handlers, {
      get: (_t, name: string) =>
        name === 'vm.exec'
          ? exec
          : () => {
              throw new BangerError('bad_request', `${name} is not served in this test (vm exec should need vm.exec alone)`);
            },
    });
    const dispatch = createDispatch(handlers);
    const runtime = join(dir, 'run');
    server = await startServer({
      socketPath: join(runtime, 'banger', 'bangerd.sock'),
      dispatch: (method, params, ctx) => {
        calls.push({ method, params: params as Record<string, unknown> });
        return dispatch(method, params, ctx);
      },
      log: silentLogger,
    });
    env = { ...process.env, BANGER_NO_SYSTEM: '1', XDG_RUNTIME_DIR: runtime, XDG_STATE_HOME: join(dir, 'state'), XDG_CONFIG_HOME: join(dir, 'config') };
  }, 60_000);
  afterAll(async () => {
    server?.close();
    await guest?.close();
  });

  const banger = async (args: string[]) => {
    calls.length = 0;
    return run([process.execPath, join(REPO, 'bin', 'banger'), ...args], { env, check: false, timeoutMs: 60_000 });
  };
  const workspace = (o: Partial<Workspace> = {}): Workspace => ({
    guestPath: guestDir,
    hostSource: repo,
    headCommit: prepared,
    branch: 'main',
    mode: 'shallow',
    preparedAt: '2026-12-04T00:00:00Z',
    ...o,
  });

  it('HEAD as prepared: no warning; the command runs in the workspace; one call', async () => {
    rec.workspace = workspace();
    const r = await banger(['vm', 'exec', 'dx', '--', 'pwd']);
    expect(calls.map((c) => c.method)).toEqual(['vm.exec']);
    expect(calls[0].params.reportDrift).toBe(true);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${guestDir}\n`);
    expect(r.stderr).toBe('');
  });

  it('HEAD moved: the warning, before the command\'s output, from the same one call; the exit code is the command\'s', async () => {
    rec.workspace = workspace();
    await writeFiles(repo, { 'b.txt': 'b\n' });
    const head = await commitAll(repo, 'moved');
    const r = await banger(['vm', 'exec', 'dx', '--', 'sh', '-c', 'echo from-the-command >&2; exit 3']);
    expect(calls.map((c) => c.method)).toEqual(['vm.exec']);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      `banger: warning: the host repo ${repo} is at ${head.slice(0, 12)} but dx's workspace was prepared at ${prepared.slice(0, 12)}; ` +
        `run with --auto-prepare to re-sync it first, or \`banger vm workspace prepare dx ${repo}\`\nfrom-the-command\n`,
    );
  });

  it('-w: no drift check (as before), no warning', async () => {
    rec.workspace = workspace({ headCommit: 'f'.repeat(40) });
    const r = await banger(['vm', 'exec', 'dx', '-w', '/', '--', 'pwd']);
    expect(calls.map((c) => c.method)).toEqual(['vm.exec']);
    expect(calls[0].params.reportDrift).toBeFalsy();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('/\n');
    expect(r.stderr).toBe('');
  });

  it('no workspace, or a host repo that moved away: no warning, the command runs', async () => {
    rec.workspace = null;
    const none = await banger(['vm', 'exec', 'dx', '--', 'true']);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stderr).toBe('');
    rec.workspace = workspace({ headCommit: 'f'.repeat(40) });
    renameSync(repo, `${repo}.moved`);
    try {
      const gone = await banger(['vm', 'exec', 'dx', '--', 'true']);
      expect(calls.map((c) => c.method)).toEqual(['vm.exec']);
      expect(gone.code, gone.stderr).toBe(0);
      expect(gone.stderr).toBe('');
    } finally {
      renameSync(`${repo}.moved`, repo);
    }
  });
});
