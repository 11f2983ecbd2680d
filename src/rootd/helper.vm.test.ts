/**
 * A real bridge-mode VM as a non-root user through bangerd-root. Inside a network namespace this file
 * creates: the helper runs as root, bangerd and QEMU run as a temporary user (created and removed
 * here) with its own install seeded from the golden kernel and image. The VM boots on the bridge with
 * NAT, answers SSH at its IP, survives kill -9 of either process, and `vm delete` removes its tap and
 * rules through the helper. Without a helper the same request is refused naming `sudo banger system install`.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goldenState } from '../testing/fixture.js';
import { helperRig, ownerInstall, type HelperRig, type OwnerInstall } from './fixture.js';

const root = process.getuid?.() === 0;
let rig: HelperRig;
let inst: OwnerInstall;
beforeAll(async () => {
  if (!root) return;
  const golden = await goldenState();
  rig = await helperRig({ cidr: '172.30.0.0/24', installId: 'c0ffee42' });
  await rig.start();
  inst = await ownerInstall(rig, golden);
}, 1_800_000);
afterAll(async () => {
  await inst?.destroy();
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
