/**
 * The runtime dir and the daemon socket against another local user, through the real CLI and
 * daemon (no VMs): a /tmp/banger-<uid> pre-created by a second real user is refused by the CLI and
 * the daemon; a symlink planted as the pid file is replaced, never written through; a socket in
 * the runtime dir that is not ours gets no request.
 */
import { chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeInstall, REPO, type Install } from '../../test/install.fixture.js';
import { createTempUser, type TempUser } from '../../test/tempuser.fixture.js';

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('a runtime dir another user prepared', () => {
  let victim: TempUser;
  let attacker: TempUser;
  let planted: string;
  beforeAll(async () => {
    victim = await createTempUser('bgv', { subIds: false });
    attacker = await createTempUser('bga', { subIds: false });
    delete victim.env.XDG_RUNTIME_DIR; // as under sudo: no runtime dir from a login manager
    planted = `/tmp/banger-${victim.uid}`;
    rmSync(planted, { recursive: true, force: true }); // a leftover of a removed user with the same uid
  }, 120_000);
  afterAll(async () => {
    await victim?.remove();
    await attacker?.remove();
    if (planted) rmSync(planted, { recursive: true, force: true });
  });

  it('is refused by the CLI and the daemon, naming the owner; nothing is created in it', async () => {
    expect(existsSync(`/run/user/${victim.uid}`)).toBe(false); // so /tmp/banger-<uid> is the one used
    expect((await attacker.run(['mkdir', '-m', '0777', planted])).code).toBe(0);
    const r = await victim.banger(['daemon', 'status'], { timeoutMs: 60_000 });
    expect(r.code).toBe(5); // conflict
    expect(r.stderr).toContain(`runtime directory ${planted} is owned by uid ${attacker.uid}, not by you (uid ${victim.uid})`);
    expect(existsSync(join(planted, 'bangerd.sock'))).toBe(false);
    const d = await victim.run([process.execPath, join(REPO, 'dist', 'daemon', 'main.js')], { timeoutMs: 60_000 });
    expect(d.code).not.toBe(0);
    expect(d.stderr).toMatch(/is owned by uid/);
    expect(existsSync(join(planted, 'bangerd.sock'))).toBe(false);
  });

  it('once removed, the victim gets its own 0700 directory and a working daemon', async () => {
    rmSync(planted, { recursive: true, force: true });
    const r = await victim.banger(['daemon', 'status'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const st = lstatSync(planted);
    expect(st.uid).toBe(victim.uid);
    expect(st.mode & 0o777).toBe(0o700);
    expect(lstatSync(join(planted, 'bangerd.sock')).uid).toBe(victim.uid);
  });
});

describe('the pid file and the socket in our own runtime dir', () => {
  let inst: Install;
  beforeAll(() => {
    inst = makeInstall(mkdtempSync('/tmp/bp-'));
    mkdirSync(inst.runtimeDir, { recursive: true, mode: 0o700 });
  });
  afterAll(async () => {
    await inst?.destroy();
  });

  it('a symlink planted as the pid file is replaced, its target untouched', async () => {
    const victimFile = join(inst.root, 'precious');
    writeFileSync(victimFile, 'keep me\n');
    symlinkSync(victimFile, join(inst.runtimeDir, 'bangerd.pid'));
    const r = await inst.cli(['daemon', 'status', '--json'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(victimFile, 'utf8')).toBe('keep me\n');
    const pidFile = join(inst.runtimeDir, 'bangerd.pid');
    expect(lstatSync(pidFile).isSymbolicLink()).toBe(false);
    expect(readFileSync(pidFile, 'utf8').trim()).toBe(String(JSON.parse(r.stdout).pid));
    expect((await inst.cli(['daemon', 'stop'])).code).toBe(0);
  });

  it.skipIf(!isRoot)('a socket owned by someone else gets no request', async () => {
    const sock = join(inst.runtimeDir, 'bangerd.sock');
    rmSync(sock, { force: true });
    let requests = 0;
    const fake = createServer((c) => {
      requests++;
      c.end('{"result":{}}\n');
    });
    await new Promise<void>((res) => fake.listen(sock, res));
    try {
      chownSync(sock, 65534, 65534); // nobody's
      const r = await inst.cli(['daemon', 'status'], { timeoutMs: 30_000 });
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/bangerd\.sock is a socket owned by uid 65534, not bangerd's/);
      expect(requests).toBe(0);
    } finally {
      fake.close();
    }
  });
});
