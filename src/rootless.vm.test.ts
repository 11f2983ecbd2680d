/**
 * Rootless from nothing (issue 10): a fresh non-root user with subordinate id ranges and no root
 * helper pulls the kernel, builds the default image, boots a VM, prepares and exports a workspace and
 * deletes the VM — every step through the real CLI as that user. Afterwards nothing of the user is
 * left (processes, files, ranges). Prints the whole time for the closing note.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './host/exec.js';
import { createTempUser, type TempUser } from '../test/tempuser.fixture.js';

// Creating the user needs root; run as a non-root user, the whole suite is the rootless test.
const root = process.getuid?.() === 0;
let user: TempUser;
let repo: string;
const t0 = Date.now();

beforeAll(async () => {
  if (!root) return;
  user = await createTempUser('bgr');
  repo = join(user.home, 'repo');
  mkdirSync(repo);
  writeFileSync(join(repo, 'README.md'), 'hello\n');
  await run(['chown', '-R', `${user.name}:${user.name}`, repo]);
  for (const argv of [
    ['git', 'init', '-q', '-b', 'main'],
    ['git', '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'add', '.'],
    ['git', '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-qm', 'init'],
  ]) {
    const r = await user.run(argv, { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
  }
});

afterAll(async () => {
  await user?.remove();
});

describe.skipIf(!root)('rootless banger, from nothing (root: creates a temporary user)', () => {
  it('the user is not root and has no helper', async () => {
    const r = await user.run(['id', '-u']);
    expect(Number(r.stdout.trim())).toBeGreaterThan(0);
    const s = await user.banger(['daemon', 'status', '--json']);
    expect(s.code, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout).pid).toBeGreaterThan(0);
  });

  it('vm run pulls the kernel, builds the image and boots a guest, all as the user', async () => {
    const r = await user.banger(['vm', 'run', '--name', 'first', '--', 'uname', '-a'], { timeoutMs: 1_500_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Linux first /m);
    console.log(`rootless fresh machine -> first guest: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // Everything it made belongs to the user.
    const owner = await run(['stat', '-c', '%U', join(user.home, 'state', 'banger', 'banger.db')]);
    expect(owner.stdout.trim()).toBe(user.name);
    const qemu = await run(['pgrep', '-u', user.name, '-f', 'qemu-system']);
    expect(qemu.stdout.trim()).not.toBe('');
  }, 1_500_000); // kernel pull + image build + warm snapshot, under software emulation

  it('a workspace goes in and its change comes back as a patch', async () => {
    const r = await user.banger(['vm', 'run', repo, '--name', 'ws', '--', 'sh', '-c', 'echo changed >> README.md; echo new > made.txt']);
    expect(r.code, r.stderr).toBe(0);
    const patch = join(user.home, 'ws.patch');
    const e = await user.banger(['vm', 'workspace', 'export', 'ws', '-o', patch]);
    expect(e.code, e.stderr).toBe(0);
    const text = (await run(['cat', patch])).stdout;
    expect(text).toMatch(/\+changed/);
    expect(text).toMatch(/made\.txt/);
    const applied = await user.run(['git', 'apply', '--check', patch], { cwd: repo });
    expect(applied.code, applied.stderr).toBe(0);
  });

  it('vm delete removes the VMs and their processes', async () => {
    for (const name of ['first', 'ws']) {
      const d = await user.banger(['vm', 'delete', name]);
      expect(d.code, d.stderr).toBe(0);
    }
    const list = await user.banger(['vm', 'list', '--json']);
    expect(JSON.parse(list.stdout)).toEqual([]);
    const qemu = await run(['pgrep', '-u', user.name, '-f', 'qemu-system'], { check: false });
    expect(qemu.stdout.trim()).toBe('');
  });

  it('removing the user leaves nothing behind', async () => {
    const { name, home } = user;
    await user.remove();
    expect((await run(['id', name], { check: false })).code).not.toBe(0);
    expect((await run(['pgrep', '-u', name], { check: false })).stdout.trim()).toBe('');
    expect(existsSync(home)).toBe(false);
    for (const f of ['/etc/subuid', '/etc/subgid']) expect((await run(['cat', f])).stdout).not.toMatch(new RegExp(`^${name}:`, 'm'));
  });
});
