/**
 * Issue 14 end to end: an image pushed to a real local registry (docker-registry) is pulled with
 * `banger image pull`, boots with banger's own init and sshd (it has neither), and runs as the
 * image says: its Env and WorkingDir in `vm exec`, its Entrypoint+Cmd for `vm run --image` with no
 * command, its later layer's whiteout applied; a workspace round-trips through it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRepo } from '../../../../test/gitrepo.fixture.js';
import { freshInstall, type Install } from '../../../../test/install.fixture.js';
import { busyboxRootfs, pushLayout, registryUnavailableReason, startRegistry, writeOciLayout, type TestRegistry } from '../../../../test/registry.fixture.js';

const skip = await registryUnavailableReason();
if (skip) console.log(`skipping the pull→boot test: ${skip}`);

let inst: Install;
let reg: TestRegistry;
let work: string;

beforeAll(async () => {
  if (skip) return;
  work = await mkdtemp(join(tmpdir(), 'banger-pullboot-'));
  reg = await startRegistry();
  const layout = join(work, 'layout');
  await writeOciLayout(
    layout,
    {
      layers: [
        [...(await busyboxRootfs()), { name: 'etc/motd', type: 'file', body: 'to be removed\n' }],
        [
          { name: 'etc/.wh.motd', type: 'file', body: '' },
          { name: 'srv/', type: 'directory' },
          { name: 'srv/app/', type: 'directory' },
          { name: 'srv/app/run', type: 'file', mode: 0o755, body: '#!/bin/sh\necho "run $1 $MODE in $(pwd)"\nexit 5\n' },
        ],
      ],
      config: { Env: ['PATH=/bin:/srv/app', 'MODE=pulled'], WorkingDir: '/srv/app', Entrypoint: ['/srv/app/run'], Cmd: ['default-arg'] },
    },
    '1',
  );
  await pushLayout(layout, '1', `${reg.host}/team/bb:1`);
  inst = await freshInstall();
}, 1_800_000);

afterAll(async () => {
  await inst?.destroy();
  await reg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe.skipIf(!!skip)('a pulled OCI image boots', () => {
  it('pulls, boots and runs commands with the image’s Env and WorkingDir', async () => {
    const pull = await inst.cli(['image', 'pull', '--insecure', `${reg.host}/team/bb:1`, '--name', 'bb', '--json']);
    expect(pull.code, pull.stderr).toBe(0);
    expect(JSON.parse(pull.stdout)).toMatchObject({ name: 'bb', source: 'pull', runtime: { workingDir: '/srv/app', entrypoint: ['/srv/app/run'] } });
    const create = await inst.cli(['vm', 'create', '--name', 'p1', '--image', 'bb']);
    expect(create.code, create.stderr).toBe(0);
    const r = await inst.cli(['vm', 'exec', 'p1', '--', 'sh', '-c', 'echo "$MODE"; pwd; cat /etc/os-release; test -e /etc/motd && echo motd-present || echo motd-gone']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('pulled\n/srv/app\nID=busybox\nNAME="BusyBox"\nPRETTY_NAME="BusyBox static"\nmotd-gone\n');
  }, 900_000);

  it('`vm run --image` with no command runs Entrypoint+Cmd and exits with its status', async () => {
    const r = await inst.cli(['vm', 'run', '--rm', '--image', 'bb']);
    expect(r.stdout).toContain('run default-arg pulled in /srv/app');
    expect(r.code).toBe(5);
  }, 900_000);

  it('a workspace goes in and its change comes back out', async () => {
    const repo = await makeRepo(join(work, 'repo'), { 'a.txt': 'one\n' });
    const prep = await inst.cli(['vm', 'workspace', 'prepare', 'p1', repo]);
    expect(prep.code, prep.stderr).toBe(0);
    const edit = await inst.cli(['vm', 'exec', 'p1', '--', 'sh', '-c', 'echo two >> a.txt']);
    expect(edit.code, edit.stderr).toBe(0);
    const exp = await inst.cli(['vm', 'workspace', 'export', 'p1']);
    expect(exp.code, exp.stderr).toBe(0);
    expect(exp.stdout).toContain('+two');
  }, 900_000);
});
