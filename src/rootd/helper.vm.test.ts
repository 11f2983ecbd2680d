/**
 * A real bridge-mode VM as a non-root user through bangerd-root. Inside a network namespace this file
 * creates: the helper runs as root, bangerd and QEMU run as a temporary user (created and removed
 * here) with its own install seeded from the golden kernel and image. The VM boots on the bridge with
 * NAT (it reaches an upstream namespace as the uplink's address), answers SSH at its IP, survives kill -9 of either process, and `vm delete` removes its tap and
 * rules through the helper. Without a helper the same request is refused naming `sudo banger system install`.
 */
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, spawnProcess, type ProcessHandle } from '../host/exec.js';
import { goldenState } from '../../test/install.fixture.js';
import { helperRig, ownerInstall, type HelperRig, type OwnerInstall } from '../../test/rootd.fixture.js';

const root = process.getuid?.() === 0;
let rig: HelperRig;
let inst: OwnerInstall;
/** An "upstream" namespace behind a veth (10.99.0.2), with an HTTP server that logs each client's address. */
const up = { ns: '', server: null as ProcessHandle | null, log: '' };
beforeAll(async () => {
  if (!root) return;
  const golden = await goldenState();
  rig = await helperRig({ cidr: '172.30.0.0/24', installId: 'c0ffee42' });
  await rig.start();
  inst = await ownerInstall(rig, golden);
  up.ns = `${rig.ns}-up`;
  up.log = join(rig.dir, 'upstream.log');
  await run(['ip', 'netns', 'add', up.ns]);
  await run(['ip', 'link', 'add', 'vup0', 'type', 'veth', 'peer', 'name', 'vup1'], { netns: rig.ns });
  await run(['ip', 'link', 'set', 'vup1', 'netns', up.ns], { netns: rig.ns });
  for (const [ns, dev, addr] of [[rig.ns, 'vup0', '10.99.0.1/24'], [up.ns, 'vup1', '10.99.0.2/24']]) {
    await run(['ip', 'addr', 'add', addr, 'dev', dev], { netns: ns });
    await run(['ip', 'link', 'set', dev, 'up'], { netns: ns });
  }
  await run(['ip', 'link', 'set', 'lo', 'up'], { netns: up.ns });
  await run(['ip', 'route', 'add', 'default', 'via', '10.99.0.2'], { netns: rig.ns });
  const fd = openSync(up.log, 'a');
  up.server = spawnProcess(['python3', '-m', 'http.server', '8000', '--bind', '10.99.0.2', '--directory', rig.dir], { netns: up.ns, stdio: ['ignore', fd, fd] });
  closeSync(fd);
}, 1_800_000);
afterAll(async () => {
  if (up.server && up.server.pid > 0) {
    up.server.kill('SIGKILL');
    await up.server.exit.catch(() => undefined);
  }
  await inst?.destroy();
  if (up.ns) await run(['ip', 'netns', 'del', up.ns], { check: false });
  await rig?.destroy();
}, 300_000);

interface VmView {
  id: string;
  state: string;
  pid: number | null;
  network: { mode: string; ip?: string; nat: boolean };
}
const show = async (name: string) => JSON.parse((await inst.cli(['vm', 'show', name])).stdout) as VmView;
const links = () => rig.inNs(['ip', '-o', 'link', 'show']);
const rules = async () => {
  const out = (await rig.inNs(['iptables', '-w', '-t', 'nat', '-S', 'POSTROUTING'])) + (await rig.inNs(['iptables', '-w', '-S', 'FORWARD']));
  return out.split('\n').filter((l) => l.includes('banger:'));
};
const uidOf = (pid: number) => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
const kill9 = async (pid: number) => {
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe.skipIf(!root)('bridge mode as a non-root user through bangerd-root', () => {
  it('boots with NAT, answers SSH at its IP, survives kill -9 of bangerd and of the helper, and delete leaves nothing', async () => {
    const create = await inst.cli(['vm', 'create', '--name', 'hb1', '--network', 'bridge', '--nat']);
    expect(create.stderr).toMatch(/network: bridge br-banger, tap bgr[0-9a-f]{12}, 172\.30\.0\.\d+, NAT/);
    expect(create.code).toBe(0);
    const vm = await show('hb1');
    const ip = vm.network.ip!;
    const tap = `bgr${vm.id.slice(0, 12)}`;
    // Everything but the host plumbing runs as the owner.
    expect(uidOf(inst.daemonPid()!)).toBe(rig.owner.uid);
    expect(uidOf(vm.pid!)).toBe(rig.owner.uid);
    expect(await rig.inNs(['ip', '-d', 'link', 'show', tap])).toMatch(new RegExp(`master br-banger[^]*persist on user ${rig.owner.name}`));
    expect(await rules()).toHaveLength(3);
    expect((await rules()).every((l) => l.includes(`"banger:c0ffee42:${vm.id}"`))).toBe(true);

    // SSH at its IP from inside the namespace (OpenSSH, the owner's key), and through the daemon.
    const key = `${inst.stateDir}/ssh/id_ed25519`;
    const ssh = await rig.inNs(['ssh', '-F', '/dev/null', '-i', key, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', `root@${ip}`, 'uname', '-n']);
    expect(ssh.trim()).toBe('hb1');
    expect((await inst.cli(['vm', 'exec', 'hb1', '--', 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0'])).stdout).toContain(`${ip}/24`);
    // NAT works: the guest reaches the upstream namespace, which sees the uplink's address, not the guest's.
    const get = await inst.cli(['vm', 'exec', 'hb1', '--', 'bash', '-c', 'exec 3<>/dev/tcp/10.99.0.2/8000; printf "GET /nat-probe HTTP/1.0\\r\\n\\r\\n" >&3; head -1 <&3']);
    expect(get.stdout).toMatch(/^HTTP\/1\.0 404/);
    expect(readFileSync(up.log, 'utf8')).toMatch(/^10\.99\.0\.1 .*"GET \/nat-probe HTTP\/1\.0" 404/m);

    // kill -9 bangerd: the VM keeps running, the next daemon (as the owner) adopts it; reconcile goes through the helper.
    const d1 = inst.daemonPid()!;
    await kill9(d1);
    expect((await inst.cli(['daemon', 'status'])).code).toBe(0);
    expect(inst.daemonPid()).not.toBe(d1);
    expect(await show('hb1')).toMatchObject({ state: 'running', pid: vm.pid });
    expect(await rules()).toHaveLength(3);
    expect(await links()).toContain(tap);

    // kill -9 the helper: the VM does not notice; a restarted helper serves the same daemon.
    await rig.kill9();
    expect((await inst.cli(['vm', 'exec', 'hb1', '--', 'true'])).code).toBe(0);
    await rig.start();
    const d2 = inst.daemonPid()!;
    await kill9(d2);
    expect((await inst.cli(['daemon', 'status'])).code).toBe(0);
    expect(await show('hb1')).toMatchObject({ state: 'running', pid: vm.pid });
    expect((await inst.cli(['vm', 'exec', 'hb1', '--', 'cat', '/etc/hostname'])).stdout.trim()).toBe('hb1');

    // Delete: tap, rules and bridge go, through the helper.
    expect((await inst.cli(['vm', 'delete', 'hb1'])).code).toBe(0);
    expect(await links()).not.toContain(tap);
    expect(await links()).not.toContain('br-banger');
    expect(await rules()).toEqual([]);

    // No helper (no BANGER_HELPER_SOCKET, no install record) and not root: bridge mode is refused, saying what to do.
    expect((await inst.cli(['daemon', 'stop'])).code).toBe(0);
    const refused = await inst.cli(['vm', 'create', '--name', 'nh', '--network', 'bridge'], { helper: false });
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/bridge networking needs root .*run `sudo banger system install`/);
    expect((await inst.cli(['daemon', 'stop'], { helper: false })).code).toBe(0);
  });
});
