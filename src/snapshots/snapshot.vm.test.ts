/**
 * Snapshots, fork and warm start on real guests, through the real CLI and daemon.
 *
 * One install for the file. The first `vm create` builds the warm snapshot (one cold boot of a
 * template); every other VM here is restored, never booted. VMs are deleted as soon as a test is
 * done with them, to keep the load on the shared cores low.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Snapshot } from '../api/snapshot.js';
import { run } from '../host/exec.js';
import { macFor } from '../network/ipalloc.js';
import { freshInstall, type Install } from '../../test/install.fixture.js';
import { RESEED_PERL } from './identity.js';

let inst: Install;
let repo: string;
const timings: Record<string, number> = {};

beforeAll(async () => {
  inst = await freshInstall();
  repo = mkdtempSync(join(tmpdir(), 'banger-snaprepo-'));
  writeFileSync(join(repo, 'README.md'), 'hello from the host\n');
  writeFileSync(join(repo, 'data.txt'), 'original\n');
  const git = (...args: string[]) => run(['git', '-C', repo, ...args], { env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });
  await git('init', '-q', '-b', 'main');
  await git('add', '.');
  await git('commit', '-q', '-m', 'init');
}, 1_800_000);

afterAll(async () => {
  await inst?.destroy();
  if (repo) rmSync(repo, { recursive: true, force: true });
  console.log(`[snapshot.vm.test] timings (ms): ${JSON.stringify(timings)}`);
});

const json = <T>(s: string): T => JSON.parse(s) as T;
/** The argv of the QEMU running the VM with this id (its runtime directory is named by the id). */
function qemuArgvOf(vmId: string): string[] {
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv[0].includes('qemu-system') && argv.some((a) => a.includes(vmId))) return argv;
    } catch {
      // exited meanwhile
    }
  }
  throw new Error(`no QEMU runs VM ${vmId}`);
}
async function cli(args: string[], opts: { input?: string } = {}) {
  const t0 = Date.now();
  const r = await inst.cli(args, opts);
  return { ...r, ms: Date.now() - t0 };
}
async function ok(args: string[]) {
  const r = await cli(args);
  if (r.code !== 0) throw new Error(`banger ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}
const out = async (vm: string, script: string) => (await ok(['vm', 'exec', vm, '--', 'sh', '-c', script])).stdout.trim();
const snapshots = async () => json<{ snapshots: Snapshot[] }>((await ok(['snapshot', 'list', '--json'])).stdout).snapshots;

describe('snapshots, fork and warm start', () => {
  let autoSnap: string;

  it('creates the first VM by building the warm snapshot, then restoring it', async () => {
    const r = await ok(['vm', 'create', '--name', 'src']);
    timings.firstCreateWithWarmBuild = r.ms;
    expect(r.stderr).toMatch(/building warm:debian-bookworm/);
    expect(r.stderr).toMatch(/restoring warm:debian-bookworm/);
    expect(await out('src', 'hostname; grep 127.0.1.1 /etc/hosts')).toBe('src\n127.0.1.1\tsrc');
    const warm = (await snapshots()).find((s) => s.name === 'warm:debian-bookworm');
    expect(warm).toMatchObject({ kind: 'warm', usedBy: { vms: ['src'], snapshots: [] } });
    // no template left behind
    expect(json<Array<{ name: string }>>((await ok(['vm', 'list', '--json'])).stdout).map((v) => v.name)).toEqual(['src']);
  });

  it('runs `vm run --rm -- true` warm', async () => {
    const r = await cli(['vm', 'run', '--rm', '--', 'true']);
    timings.warmRunRmTrue = r.ms;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/restoring warm:debian-bookworm/);
    expect(r.stderr).not.toMatch(/starting qemu/);
    expect(json<Array<{ name: string }>>((await ok(['vm', 'list', '--json'])).stdout).map((v) => v.name)).toEqual(['src']);
  });

  it('forks a VM with a workspace into two children with their own disks and identities', async () => {
    const prep = await cli(['vm', 'workspace', 'prepare', 'src', repo]);
    expect(prep.code, prep.stderr).toBe(0);
    expect(await out('src', 'cat /root/repo/data.txt')).toBe('original');
    const srcId = await out('src', 'cat /etc/machine-id');
    // src is itself a restore: its identity step gave its NIC an address QEMU's NIC was not started with.
    const srcMac = await out('src', 'cat /sys/class/net/eth0/address');
    expect(srcMac).not.toBe('52:54:00:12:34:56');

    const f = await cli(['vm', 'fork', 'src', '--name', 'kid', '--count', '2', '--json']);
    timings.forkRunningVmTwoChildren = f.ms;
    expect(f.code, f.stderr).toBe(0);
    const r = json<{ snapshot: string; vms: Array<{ name: string; state: string; workspace: { guestPath: string } | null }> }>(f.stdout);
    autoSnap = r.snapshot;
    expect(autoSnap).toMatch(/^src-\d{8}-\d{6}$/);
    expect(r.vms.map((v) => [v.name, v.state])).toEqual([
      ['kid-1', 'running'],
      ['kid-2', 'running'],
    ]);
    // the workspace record comes along, so exec runs in the repo
    expect(r.vms[0].workspace?.guestPath).toBe('/root/repo');
    expect(f.stderr).not.toMatch(/cannot reseed/);

    // Right after the restore: the same read of /dev/urandom differs (the CRNG was reseeded per child).
    const read = 'head -c 32 /dev/urandom | od -An -tx1 | tr -d " \\n"';
    const [rand1, rand2] = await Promise.all([out('kid-1', read), out('kid-2', read)]);
    expect(rand1).toMatch(/^[0-9a-f]{64}$/);
    expect(rand1).not.toBe(rand2);

    // Both see the workspace, in the workspace directory by default.
    for (const kid of ['kid-1', 'kid-2']) {
      expect(await out(kid, 'pwd; cat README.md data.txt')).toBe('/root/repo\nhello from the host\noriginal');
    }
    // A change in one is not visible in the other (or in the source).
    await out('kid-1', 'echo changed-in-kid-1 > data.txt && sync');
    expect(await out('kid-2', 'cat data.txt')).toBe('original');
    expect(await out('src', 'cat /root/repo/data.txt')).toBe('original');
    expect(await out('kid-1', 'cat data.txt')).toBe('changed-in-kid-1');

    // Fresh identity: host name, machine-id, MAC, SSH host key.
    const id = async (vm: string) => (await out(vm, 'hostname; cat /etc/machine-id; cat /sys/class/net/eth0/address; cat /etc/ssh/ssh_host_ed25519_key.pub')).split('\n');
    const [a, b] = await Promise.all([id('kid-1'), id('kid-2')]);
    expect(a[0]).toBe('kid-1');
    expect(b[0]).toBe('kid-2');
    expect(a[1]).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set([a[1], b[1], srcId]).size).toBe(3);
    expect(a[2]).not.toBe(b[2]);
    // One MAC per VM id: the one network/ipalloc.ts derives (and a bridge-mode row stores).
    const kid1 = json<{ id: string }>((await ok(['vm', 'show', 'kid-1'])).stdout);
    expect(a[2]).toBe(macFor(kid1.id));
    // The child's NIC was started with the address the saved guest answered to: QEMU announces that one
    // after the restore, and passt sent the first connection to whatever it announced (it was lost).
    expect(qemuArgvOf(kid1.id).find((a) => a.startsWith('virtio-net'))).toMatch(new RegExp(`,mac=${srcMac}$`));
    expect(a[3]).not.toBe(b[3]);
    // The guest can rekey its CRNG (what the identity step relies on).
    expect((await cli(['vm', 'exec', 'kid-2', '--', 'perl', '-e', RESEED_PERL, 'ab'.repeat(32), '/dev/urandom'])).code).toBe(0);
    // The clock was set from the host at restore (the snapshot's moment is in the past).
    const guestNow = Number(await out('kid-2', 'date +%s'));
    expect(Math.abs(guestNow - Date.now() / 1000)).toBeLessThan(30);
    // `vm ssh` (OpenSSH, StrictHostKeyChecking=yes) trusts the child's new host key.
    const ssh = await cli(['vm', 'ssh', 'kid-1', '--', 'hostname']);
    expect(ssh.code, ssh.stderr).toBe(0);
    expect(ssh.stdout.trim()).toBe('kid-1');
  });

  it('refuses to delete a snapshot or image that VMs sit on, naming them', async () => {
    const del = await cli(['snapshot', 'delete', autoSnap]);
    expect(del.code).toBe(5);
    expect(del.stderr).toContain(`snapshot "${autoSnap}" is the disk layer under VM kid-1, VM kid-2, VM src; delete those first`);
    const img = await cli(['image', 'delete', 'debian-bookworm']);
    expect(img.code).toBe(5);
    expect(img.stderr).toMatch(/used by VM kid-1, VM kid-2, VM src/);
    await ok(['vm', 'delete', 'kid-2', 'src']);
  });

  it('forks a snapshot whose VM was deleted, also after a daemon restart', async () => {
    const s = await cli(['vm', 'snapshot', 'kid-1', '--name', 'keep']);
    timings.snapshotRunningVm = s.ms;
    expect(s.code, s.stderr).toBe(0);
    // the VM resumed and writes its new overlay
    await out('kid-1', 'echo after-snapshot > /root/repo/data.txt');
    await ok(['vm', 'delete', 'kid-1']);
    expect(existsSync(join(inst.stateDir, 'snapshots'))).toBe(true);

    await ok(['daemon', 'stop']);
    const list = await snapshots();
    expect(list.map((x) => x.name).sort()).toEqual([autoSnap, 'keep', 'warm:debian-bookworm'].sort());
    expect(list.find((x) => x.name === 'keep')).toMatchObject({ kind: 'user', sourceVm: 'kid-1', parent: autoSnap, usedBy: { vms: [], snapshots: [] } });

    const f = await cli(['vm', 'fork', 'keep', '--name', 'again']);
    timings.forkSnapshotAfterRestart = f.ms;
    expect(f.code, f.stderr).toBe(0);
    expect(await out('again', 'hostname; cat data.txt')).toBe('again\nchanged-in-kid-1');
    await ok(['vm', 'delete', 'again']);
  });

  it('guards the image with the snapshots made from it, and cleans up completely', async () => {
    const img = await cli(['image', 'delete', 'debian-bookworm']);
    expect(img.code).toBe(5);
    expect(img.stderr).toContain(`image "debian-bookworm" is used by snapshot ${[autoSnap, 'keep'].sort().join(', ')}`);
    const parent = await cli(['snapshot', 'delete', autoSnap]);
    expect(parent.code).toBe(5);
    expect(parent.stderr).toContain('is the disk layer under snapshot keep');
    await ok(['snapshot', 'delete', 'keep']);
    await ok(['snapshot', 'delete', autoSnap]);
    // Only the warm cache is left; deleting the image drops it with the image.
    await ok(['image', 'delete', 'debian-bookworm']);
    expect(await snapshots()).toEqual([]);
    expect(readdirSync(join(inst.stateDir, 'snapshots'))).toEqual([]);
    expect((await run(['pgrep', '-f', inst.runtimeDir], { check: false })).stdout.trim()).toBe('');
  });
});
