/**
 * `image import` against hostile inputs, through the real CLI and a real daemon of an isolated
 * install (no kernel, no image, no VM): a missing path, /dev/zero, a FIFO and a directory are
 * refused at once and the same daemon process keeps answering; a client that goes away mid-import
 * leaves nothing registered and nothing staged; the byte limit; a taken name is a conflict unless
 * --force, which replaces the image without leaking its directory.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnProcess } from '../host/exec.js';
import { makeInstall, REPO, type Install } from '../../test/install.fixture.js';

let inst: Install;
let pid: number;

async function daemonPid(): Promise<number> {
  const r = await inst.cli(['daemon', 'status', '--json'], { timeoutMs: 20_000 });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).pid as number;
}

const dirEntries = (d: string) => (existsSync(d) ? readdirSync(d) : []);
const images = () => dirEntries(join(inst.stateDir, 'images'));
const staged = () => dirEntries(join(inst.stateDir, 'staging'));

async function tarOf(entries: Array<{ name: string; body?: string | Buffer }>): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name, type: 'file', mode: 0o755 }, e.body ?? '');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  inst = makeInstall(mkdtempSync('/tmp/bi-'));
  mkdirSync(join(inst.root, 'config', 'banger'), { recursive: true });
  writeFileSync(join(inst.root, 'config', 'banger', 'config.toml'), 'image_import_max_size = "2M"\n');
  pid = await daemonPid();
}, 120_000);
afterAll(async () => {
  await inst?.destroy();
});

describe('image import refuses what is not a regular file, and the daemon stays up', () => {
  const fifo = () => {
    const p = join(inst.root, 'pipe.tar');
    if (!existsSync(p)) execFileSync('mkfifo', [p]);
    return p;
  };
  it.each([
    ['a missing path', () => '/nonexistent.tar', /no such file/],
    ['/dev/zero', () => '/dev/zero', /is a character device/],
    ['a FIFO', fifo, /is a FIFO/],
    ['a directory', () => REPO, /is a directory/],
  ])('%s', async (_what, path, message) => {
    const t0 = Date.now();
    const r = await inst.cli(['image', 'import', 'x', '--rootfs-tar', path()], { timeoutMs: 30_000 });
    expect(r.code).toBe(2); // bad_request
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/nothing was imported/);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(await daemonPid()).toBe(pid); // the same daemon, not a restarted one
    expect(images()).toEqual([]);
    expect(staged()).toEqual([]);
  });
});

describe('kernel import reads only regular files', () => {
  it('refuses a FIFO and /dev/zero at once; the daemon stays up', async () => {
    const pipe = join(inst.root, 'vmlinux.fifo');
    execFileSync('mkfifo', [pipe]);
    for (const path of [pipe, '/dev/zero']) {
      const r = await inst.cli(['kernel', 'import', 'k', '--vmlinux', path], { timeoutMs: 30_000 });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/expected a regular file/);
    }
    expect(await daemonPid()).toBe(pid);
  });
});

describe('limits and cancellation', () => {
  it('stops reading stdin at image_import_max_size, naming the key', async () => {
    const big = await tarOf([{ name: 'blob', body: Buffer.alloc(3 * 1024 * 1024, 7) }]);
    const r = await inst.cli(['image', 'import', 'big', '--rootfs-tar', '-'], { input: big, timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/exceeds the 2M import limit; raise image_import_max_size in config\.toml/);
    expect(await daemonPid()).toBe(pid);
    expect(images()).toEqual([]);
  });

  it('refuses a regular file over the limit before reading it', async () => {
    const big = join(inst.root, 'big.tar');
    writeFileSync(big, await tarOf([{ name: 'blob', body: Buffer.alloc(3 * 1024 * 1024, 7) }]));
    const r = await inst.cli(['image', 'import', 'big', '--rootfs-tar', big]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/big\.tar \(3\.0M\) exceeds the 2M import limit; raise image_import_max_size/);
    expect(images()).toEqual([]);
  });

  it('a client that goes away mid-import leaves nothing registered or staged', async () => {
    const body = await tarOf([{ name: 'etc/os-release', body: 'ID=tiny\n' }, { name: 'bin/sh', body: '#!/x\n' }]);
    // The whole tar is sent, but stdin never ends: the import is still waiting when the client dies.
    const cli = spawnProcess([process.execPath, join(REPO, 'bin', 'banger'), 'image', 'import', 'gone', '--rootfs-tar', '-'], {
      env: inst.env,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    cli.child.stdin!.write(body);
    await new Promise((r) => setTimeout(r, 2500));
    cli.kill('SIGKILL');
    await cli.exit;
    // Give the daemon time to (wrongly) finish the import, then look.
    await new Promise((r) => setTimeout(r, 4000));
    expect(await daemonPid()).toBe(pid);
    const list = JSON.parse((await inst.cli(['image', 'list', '--json'])).stdout).images.map((m: { name: string }) => m.name);
    expect(list).toEqual([]);
    expect(images()).toEqual([]);
    expect(staged()).toEqual([]);
  });
});

describe('importing over an existing name', () => {
  it('is a conflict without --force; --force replaces it and removes the old directory', async () => {
    const one = await tarOf([{ name: 'etc/os-release', body: 'ID=one\n' }]);
    const two = await tarOf([{ name: 'etc/os-release', body: 'ID=two\n' }]);
    const oneFile = join(inst.root, 'one.tar'); // a regular file: read by the daemon itself
    writeFileSync(oneFile, one);
    const first0 = await inst.cli(['image', 'import', 'tiny', '--rootfs-tar', oneFile, '--size', '16M']);
    expect(first0.code, first0.stderr).toBe(0);
    const first = images();
    expect(first).toHaveLength(1);

    const again = await inst.cli(['image', 'import', 'tiny', '--rootfs-tar', '-', '--size', '16M'], { input: two });
    expect(again.code).toBe(5); // conflict
    expect(again.stderr).toMatch(/image "tiny" already exists .*--force/);
    expect(images()).toEqual(first);

    const forced = await inst.cli(['image', 'import', 'tiny', '--rootfs-tar', '-', '--size', '16M', '--force'], { input: two });
    expect(forced.code, forced.stderr).toBe(0);
    const show = JSON.parse((await inst.cli(['image', 'show', 'tiny'])).stdout);
    expect(show.distro).toMatch(/two/);
    expect(images()).toEqual([show.sha256]); // the old directory is gone, not leaked
    expect(staged()).toEqual([]);
  });
});
