/**
 * A warm-restored VM's identity on a real guest, through the real CLI and daemon: it is on the
 * guest's disk when `vm create` returns (a `kill -9` right after cannot bring the template's host
 * key back), and a VM whose disk lost it anyway is re-identified on start instead of refused;
 * a truly foreign host key is still refused.
 */
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Snapshot } from '../api/snapshot.js';
import { generateEd25519 } from '../guest/keys.js';
import { aliasFor, entriesFor, parseKnownHosts, preIdentityKeys } from '../guest/knownhosts.js';
import { run } from '../host/exec.js';
import { resolvePaths, type Paths } from '../store/paths.js';
import { freshInstall, type Install } from '../../test/install.fixture.js';
import { qemuImgLayers } from '../hypervisor/qemu/layers.js';

let inst: Install;
let paths: Paths;
const timings: Record<string, number> = {};

beforeAll(async () => {
  inst = await freshInstall();
  paths = resolvePaths(inst.env);
}, 1_800_000);
afterAll(async () => {
  const identityMs = readFileSync(paths.daemonLog, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"identity applied"'))
    .map((l) => JSON.parse(l) as { vm: string; ms: number });
  console.log(`[identity.vm.test] timings (ms): ${JSON.stringify(timings)}; identity step: ${JSON.stringify(identityMs.map((e) => [e.vm, e.ms]))}`);
  await inst?.destroy();
});

const json = <T>(s: string): T => JSON.parse(s) as T;
async function ok(args: string[], opts: { input?: string } = {}) {
  const r = await inst.cli(args, opts);
  if (r.code !== 0) throw new Error(`banger ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}
const exec = async (vm: string, script: string, input?: string) => (await ok(['vm', 'exec', vm, '--', 'sh', '-c', script], { input })).stdout.trim();
const show = async (vm: string) => json<{ id: string; pid: number | null; state: string; diskSizeBytes: number }>((await ok(['vm', 'show', vm])).stdout);
const knownHosts = () => parseKnownHosts(readFileSync(paths.knownHosts, 'utf8'));
/** The key banger trusts for the VM (exactly one). */
const trusted = (vm: string) => {
  const e = entriesFor(knownHosts(), aliasFor(vm));
  expect(e).toHaveLength(1);
  return e[0].key;
};
/** The host key on the guest's disk. */
const guestKey = async (vm: string) => (await exec(vm, 'cat /etc/ssh/ssh_host_ed25519_key.pub')).split(/\s+/)[1];

async function killQemu(pid: number) {
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && (await run(['kill', '-0', String(pid)], { check: false })).code === 0; i++) await new Promise((r) => setTimeout(r, 100));
}

describe('identity of a warm-restored VM', () => {
  it('is on the disk when create returns: kill -9 at once, then start: the same host key and host name', async () => {
    let t0 = Date.now();
    const created = await ok(['vm', 'create', '--name', 'k1']);
    timings.create = Date.now() - t0;
    // The identity stage as the CLI shows it: from its progress line to `ready in` (0.1 s steps).
    const at = (re: RegExp) => Number(re.exec(created.stderr)?.[1] ?? NaN) * 1000;
    timings.identityStage = at(/ready in (\d+\.\d)s/) - at(/\[(\d+\.\d)s\] identity:/);
    // No guest round trip before the kill: known_hosts is read on the host.
    const own = trusted('k1');
    const vm = await show('k1');
    await killQemu(vm.pid!);
    t0 = Date.now();
    const start = await inst.cli(['vm', 'start', 'k1']);
    timings.startAfterKill = Date.now() - t0;
    expect(start.stderr).not.toMatch(/has changed|without the identity/);
    expect(start.code).toBe(0);
    expect(await exec('k1', 'cat /etc/hostname; grep 127.0.1.1 /etc/hosts')).toBe('k1\n127.0.1.1\tk1');
    // The key the create gave it came back from the disk: no re-identification was needed.
    expect(await guestKey('k1')).toBe(own);
    expect(trusted('k1')).toBe(own);
    expect(preIdentityKeys(knownHosts(), aliasFor('k1'))).toHaveLength(1); // the template's, from the create

    // What the sync costs: the identity step's writes (6 small files, write + rename), then syncfs
    // on the root file system, timed in the guest; 10 rounds, medians with and without the sync.
    const probe = String.raw`use Time::HiRes qw(time);
      my (@with, @without);
      for my $round (1..10) {
        for my $f (qw(hostname hosts machine-id hostkey hostkey.pub dbus-id)) {
          open(my $h, '>', "/etc/banger-probe-$round-$f.new") or die; print $h ('x' x 400); close $h;
          rename("/etc/banger-probe-$round-$f.new", "/etc/banger-probe-$round-$f") or die;
        }
        my $t = time;
        if ($round % 2) { opendir(my $d, '/etc'); syscall(306, fileno($d)) == 0 or die "syncfs: $!"; push @with, time - $t; }
        else { push @without, time - $t; }
      }
      my $med = sub { my @s = sort { $a <=> $b } @_; sprintf('%.1f', $s[int(@s / 2)] * 1000) };
      print $med->(@with), ' ', $med->(@without), "
";
      unlink glob('/etc/banger-probe-*');`;
    const [withSync, without] = (await ok(['vm', 'exec', 'k1', '--', 'perl', '-e', probe])).stdout.trim().split(' ').map(Number);
    timings.syncfsAfterIdentityWritesMedian = withSync;
    timings.noSyncMedian = without;
    expect(withSync).toBeLessThan(5_000);
    await ok(['vm', 'delete', 'k1']);
  }, 1_500_000);

  it('re-identifies a VM whose disk lost the identity step (its overlay reset to the warm layer) on start; a foreign key is still refused', async () => {
    await ok(['vm', 'create', '--name', 'r1']);
    const own = trusted('r1');
    const [template] = preIdentityKeys(knownHosts(), aliasFor('r1'));
    expect(template).toBeDefined();
    const vm = await show('r1');
    await ok(['vm', 'stop', 'r1']);
    // The disk a kill before any flush leaves: the restored guest's writes never reached the
    // overlay, so it holds exactly the warm layer (the template's host key, host name, machine-id).
    const warm = json<{ snapshots: Snapshot[] }>((await ok(['snapshot', 'list', '--json'])).stdout).snapshots.find((s) => s.kind === 'warm')!;
    const disk = paths.vmFile(vm.id, 'disk');
    rmSync(disk);
    await qemuImgLayers().overlayOn(paths.snapshotFile(warm.id, 'disk'), disk, vm.diskSizeBytes);

    const t0 = Date.now();
    const start = await inst.cli(['vm', 'start', 'r1']);
    timings.startReidentify = Date.now() - t0;
    expect(start.stderr).not.toMatch(/has changed|without the identity/);
    expect(start.code).toBe(0);
    expect(await exec('r1', 'cat /etc/hostname; grep 127.0.1.1 /etc/hosts')).toBe('r1\n127.0.1.1\tr1');
    // A new key of its own, on the disk and trusted; the template's and the lost one stay refused by OpenSSH.
    const again = await guestKey('r1');
    expect(again).not.toBe(own);
    expect(again).not.toBe(template.key);
    expect(trusted('r1')).toBe(again);
    expect(preIdentityKeys(knownHosts(), aliasFor('r1')).map((m) => m.key)).toEqual([template.key, own]);
    // And it is durable: a kill right now and a start bring the same key back.
    await killQemu((await show('r1')).pid!);
    expect((await inst.cli(['vm', 'start', 'r1'])).code).toBe(0);
    expect(await guestKey('r1')).toBe(again);

    // A key banger never saw (someone replaced it in the guest): still a conflict, nothing re-applied.
    const foreign = generateEd25519('root@elsewhere');
    const put = 'k=/etc/ssh/ssh_host_ed25519_key; umask 077; cat > "$k"; printf "%s\\n" "$1" > "$k.pub"; sync';
    await ok(['vm', 'exec', 'r1', '--', 'sh', '-c', put, 'sh', foreign.public.trim()], { input: foreign.private });
    await ok(['vm', 'stop', 'r1']);
    const refused = await inst.cli(['vm', 'start', 'r1']);
    expect(refused.code).toBe(5); // conflict
    expect(refused.stderr).toMatch(/host key of VM "r1" has changed/);
    expect(trusted('r1')).toBe(again);
    await ok(['vm', 'delete', 'r1']);
  }, 1_500_000);
});
