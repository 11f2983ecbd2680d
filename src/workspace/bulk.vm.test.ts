/**
 * The bulk channel on a real guest (warm-restored, as `vm create` does by default): prepare goes
 * over the virtio-serial port and every byte arrives; an interrupted transfer leaves nothing behind
 * and the next one works; without the port (no device node in the guest, no socket on the host)
 * prepare uses SSH and says so; nobody but the daemon's user can open the host socket.
 */
import { createHash, randomBytes } from 'node:crypto';
import { linkSync, lstatSync, mkdtempSync, readdirSync, rmSync, chmodSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../api/client.js';
import type { ProgressEvent } from '../api/progress.js';
import { run } from '../host/exec.js';
import { resolvePaths } from '../store/paths.js';
import { freshInstall, type Install } from '../../test/install.fixture.js';
import { makeRepo, type FileSpec } from '../../test/gitrepo.fixture.js';
import { createTempUser } from '../../test/tempuser.fixture.js';

let inst: Install;
let dir: string;
let repo: string;
let createOut = '';
const VM = 'bulk';

/** sha256 of every file under a tree (not .git), one sorted line each: the same on host and guest. */
const HASHES = ['sh', '-c', 'cd "$1" && find . -path ./.git -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum', 'h'];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'banger-bulkvm-'));
  // ~24 MB: small source-like files and a few large incompressible ones (a prepare takes seconds under TCG).
  const files: Record<string, FileSpec> = {};
  for (let i = 0; i < 600; i++) files[`src/m${i % 13}/f${i}.js`] = `export const v${i} = ${JSON.stringify(randomBytes(200 + (i % 900)).toString('base64'))};\n`;
  for (let i = 0; i < 6; i++) files[`blobs/b${i}.bin`] = { content: randomBytes(4 << 20) };
  files['bin/tool'] = { content: '#!/bin/sh\necho ok\n', mode: 0o755 };
  repo = await makeRepo(join(dir, 'repo'), files);
  inst = await freshInstall();
  const c = await inst.cli(['vm', 'create', '--name', VM]);
  if (c.code !== 0) throw new Error(`vm create failed: ${c.stderr}`);
  createOut = c.stderr;
}, 1_800_000);

afterAll(async () => {
  await inst?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const socket = () => resolvePaths(inst.env).daemonSocket;
const exec = (...argv: string[]) => inst.cli(['vm', 'exec', VM, '--', ...argv]);
function bulkSocketPath(): string {
  const vms = join(inst.runtimeDir, 'vms');
  const hits = readdirSync(vms).map((id) => join(vms, id, 'bulk.sock')).filter((p) => {
    try {
      return lstatSync(p).isSocket();
    } catch {
      return false;
    }
  });
  expect(hits).toHaveLength(1);
  return hits[0];
}

async function prepare(guestPath: string, signal?: AbortSignal, onProgress?: (e: ProgressEvent) => void) {
  const events: ProgressEvent[] = [];
  const result = await call(socket(), 'workspace.prepare', { name: VM, hostPath: repo, guestPath }, {
    signal,
    onProgress: (e) => {
      events.push(e);
      onProgress?.(e);
    },
  });
  return { result, copy: events.filter((e) => e.stage === 'copy').map((e) => e.message) };
}

async function sameFiles(guestPath: string) {
  const host = (await run([...HASHES, repo])).stdout;
  const guest = await exec(...HASHES, guestPath);
  expect(guest.code, guest.stderr).toBe(0);
  expect(guest.stdout).toBe(host);
  expect(host.split('\n').length).toBeGreaterThan(600);
}

describe('the bulk channel', () => {
  it('the VM was restored from the warm snapshot and has the port on a private socket', () => {
    expect(createOut).toMatch(/restoring warm:/);
    const st = lstatSync(bulkSocketPath());
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(process.getuid!());
  });

  it('prepare sends the files over it, and every byte arrives', async () => {
    const r = await prepare('/root/one');
    expect(r.copy).toContain('over the bulk channel');
    expect(r.copy.join('\n')).not.toMatch(/over SSH/);
    await sameFiles('/root/one');
    const git = await exec('git', '-C', '/root/one', 'status', '--porcelain');
    expect(git.stdout).toBe('');
  }, 600_000);

  it('an interrupted transfer leaves nothing behind, and the next transfer works', async () => {
    const ac = new AbortController();
    const p = prepare('/root/two', ac.signal, (e) => {
      if (e.stage === 'copy' && e.message === 'over the bulk channel') setTimeout(() => ac.abort(), 300);
    });
    await expect(p).rejects.toThrow();
    // The daemon kills the guest side; give it a moment, then nothing may be at the destination.
    await new Promise((r) => setTimeout(r, 2000));
    const ls = await exec('sh', '-c', 'ls -A /root; test ! -e /root/two');
    expect(ls.code, ls.stdout).toBe(0);
    const r = await prepare('/root/two');
    expect(r.copy).toContain('over the bulk channel');
    await sameFiles('/root/two');
    const left = await exec('sh', '-c', 'ls -d /root/.banger-ws.* 2>/dev/null | wc -l');
    expect(left.stdout.trim()).toBe('0');
  }, 600_000);

  it('nobody but the daemon user can open the host socket', async () => {
    const user = await createTempUser('bgb', { subIds: false });
    // A hard link in a directory anyone can enter: the socket's own 0600 is what refuses (the VM's
    // runtime directory, 0700, is the first wall and refuses on its own).
    const open = mkdtempSync(join(tmpdir(), 'bulk-link-'));
    try {
      chmodSync(open, 0o755);
      const link = join(open, 'b.sock');
      linkSync(bulkSocketPath(), link);
      const connect = ['perl', '-MIO::Socket::UNIX', '-e', 'IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "refused: $!\\n"; print "connected\\n"'];
      const viaLink = await user.run([...connect, link]);
      expect(viaLink.code).not.toBe(0);
      expect(viaLink.stderr).toMatch(/refused: Permission denied/);
      const direct = await user.run([...connect, bulkSocketPath()]);
      expect(direct.stderr).toMatch(/refused: Permission denied/);
    } finally {
      rmSync(open, { recursive: true, force: true });
      await user.remove();
    }
  }, 120_000);

  it('a guest without the port device: prepare uses SSH and says so', async () => {
    const rmDev = await exec('sh', '-c', 'rm -f /dev/virtio-ports/banger.bulk /dev/vport*');
    expect(rmDev.code).toBe(0);
    const r = await prepare('/root/three');
    expect(r.copy).toContain('over SSH (the guest has no bulk port device)');
    expect(r.copy).not.toContain('over the bulk channel');
    await sameFiles('/root/three');
  }, 600_000);

  it('a VM without the host socket (an old VM, a driver without the port): prepare uses SSH', async () => {
    rmSync(bulkSocketPath());
    const r = await prepare('/root/four');
    expect(r.copy.join('\n')).toMatch(/over SSH \(no bulk socket \(ENOENT\)\)/);
    await sameFiles('/root/four');
  }, 600_000);
});
