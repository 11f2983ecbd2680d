/**
 * Bridge mode on a real guest. Everything runs inside a network namespace this file creates and
 * deletes: the daemon (so QEMU, the bridge, the tap and the iptables rules), the CLI, and every
 * packet. banger's DNS listens on 127.0.0.1:53 there and the namespace's resolv.conf points at it,
 * so plain `getent`/`ssh` resolve NAME.vm through banger.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../host/exec.js';
import { netnsInstall, type NetnsInstall } from '../../test/netns.fixture.js';
import { localInstallId } from './privilege.js';

let inst: NetnsInstall;
beforeAll(async () => {
  if (process.getuid?.() !== 0) return; // bridge mode and `ip netns` need root
  inst = await netnsInstall({ config: '[network]\ndns_port = 53\n', resolvConf: 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' });
}, 1_800_000);
afterAll(async () => {
  await inst?.destroy();
});

interface VmView {
  id: string;
  state: string;
  network: { mode: string; ip?: string; nat: boolean };
  ssh: { host: string; port: number } | null;
}
const show = async (name: string) => JSON.parse((await inst.cli(['vm', 'show', name])).stdout) as VmView;
const links = async () => (await inst.inNs(['ip', '-o', 'link', 'show'])).stdout;
const natRules = async () => (await inst.inNs(['iptables', '-w', '-t', 'nat', '-S', 'POSTROUTING'])).stdout.split('\n').filter((l) => l.includes('banger:'));
const fwdRules = async () => (await inst.inNs(['iptables', '-w', '-S', 'FORWARD'])).stdout.split('\n').filter((l) => l.includes('banger:'));
const resolve = async (name: string) => (await inst.inNs(['getent', 'hosts', name])).stdout.trim().split(/\s+/)[0] ?? '';
const kill9 = (pid: number) => {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
};
const waitGone = async (pid: number) => {
  for (let i = 0; i < 100; i++) {
    if ((await run(['kill', '-0', String(pid)], { check: false })).code !== 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** `ssh root@NAME.vm`: resolved by glibc through banger's DNS, key and known_hosts from banger. */
async function sshByName(name: string, cmd: string[]) {
  const ssh = inst.stateDir + '/ssh';
  return inst.inNs(
    ['ssh', '-F', '/dev/null', '-i', `${ssh}/id_ed25519`, '-o', `UserKnownHostsFile=${ssh}/known_hosts`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', `root@${name}.vm`, ...cmd],
    { timeoutMs: 60_000 },
  );
}

describe.skipIf(process.getuid?.() !== 0)('bridge networking in a private namespace (root)', () => {
  it('boots on the bridge with NAT, answers SSH at its IP and NAME.vm, survives a daemon kill, and leaves nothing behind', async () => {
    const create = await inst.cli(['vm', 'create', '--name', 'br1', '--network', 'bridge', '--nat']);
    expect(create.stderr).toMatch(/network: bridge br-banger, tap bgr[0-9a-f]{12}, 172\.30\.0\.\d+, NAT/);
    expect(create.code).toBe(0);
    const vm = await show('br1');
    const ip = vm.network.ip!;
    const tap = `bgr${vm.id.slice(0, 12)}`;
    expect(ip).toMatch(/^172\.30\.0\.\d+$/);
    expect(vm.ssh).toEqual({ host: ip, port: 22 });

    // Bridge, tap, gateway address, NAT rule for the guest's /32.
    expect(await links()).toMatch(new RegExp(`${tap}.*master br-banger`));
    expect((await inst.inNs(['ip', '-o', '-4', 'addr', 'show', 'dev', 'br-banger'])).stdout).toContain('172.30.0.1/24');
    // A root daemon without an install record tags its rules with an id derived from its state dir.
    const installId = localInstallId(0, null, inst.stateDir);
    expect(await natRules()).toEqual([`-A POSTROUTING -s ${ip}/32 ! -o br-banger -m comment --comment "banger:${installId}:${vm.id}" -j MASQUERADE`]);
    expect((await inst.inNs(['ip', '-o', 'link', 'show', 'br-banger'])).stdout).toContain(`alias banger-managed:${installId}`);
    expect(await fwdRules()).toHaveLength(2);

    // SSH at its IP (the daemon's session) and at NAME.vm through banger's DNS (OpenSSH + glibc).
    expect((await inst.cli(['vm', 'exec', 'br1', '--', 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0'])).stdout).toContain(`${ip}/24`);
    expect(await resolve('br1.vm')).toBe(ip);
    const byName = await sshByName('br1', ['uname', '-n']);
    expect(byName.stderr).toBe('');
    expect(byName.stdout.trim()).toBe('br1');
    expect(await resolve('ghost.vm')).toBe('');
    // The generated ssh_config reaches it too.
    const cfg = (await inst.cli(['ssh-config', '--path'])).stdout.trim();
    expect((await inst.inNs(['ssh', '-F', cfg, '-o', 'BatchMode=yes', 'br1.vm', 'true'], { timeoutMs: 60_000 })).code).toBe(0);
    const ports = JSON.parse((await inst.cli(['vm', 'ports', 'br1', '--json'])).stdout) as { ports: Array<{ port: number; endpoint: string | null }> };
    expect(ports.ports.find((p) => p.port === 22)?.endpoint).toBe('br1.vm:22');
    // Forwarding is a user-mode thing.
    const fwd = await inst.cli(['vm', 'forward', 'br1', '8080']);
    expect(fwd.code).toBe(2);
    expect(fwd.stderr).toMatch(/reachable at br1\.vm:PORT/);

    // kill -9 the daemon: the VM keeps running; the next daemon adopts it, keeps one rule, rebuilds DNS.
    const d1 = inst.daemonPid()!;
    kill9(d1);
    await waitGone(d1);
    expect((await inst.cli(['daemon', 'status'])).code).toBe(0);
    expect(inst.daemonPid()).not.toBe(d1);
    expect((await show('br1')).state).toBe('running');
    expect(await natRules()).toHaveLength(1);
    expect(await links()).toContain(tap);
    expect(await resolve('br1.vm')).toBe(ip);

    // A crash of everything (daemon and QEMU): the next daemon removes the tap, rules, bridge and name.
    const d2 = inst.daemonPid()!;
    const qemu = (await show('br1')) as VmView & { pid: number };
    kill9(d2);
    kill9(qemu.pid);
    await waitGone(d2);
    await waitGone(qemu.pid);
    expect(await links()).toContain(tap); // a persistent tap outlives QEMU: this is the orphan
    expect((await inst.cli(['daemon', 'status'])).code).toBe(0);
    expect((await show('br1')).state).toBe('stopped');
    expect(await links()).not.toContain(tap);
    expect(await links()).not.toContain('br-banger');
    expect(await natRules()).toEqual([]);
    expect(await fwdRules()).toEqual([]);
    expect(await resolve('br1.vm')).toBe('');

    // NAT off while stopped: same address, no rule.
    expect((await inst.cli(['vm', 'set', 'br1', '--no-nat'])).code).toBe(0);
    const start = await inst.cli(['vm', 'start', 'br1']);
    expect(start.code).toBe(0);
    expect((await show('br1')).network).toMatchObject({ ip, nat: false });
    expect(await natRules()).toEqual([]);
    expect(await fwdRules()).toEqual([]);
    expect((await sshByName('br1', ['cat', '/etc/hostname'])).stdout.trim()).toBe('br1');

    // Delete: nothing left — tap, bridge, rules, name, ssh_config entry.
    expect((await inst.cli(['vm', 'delete', 'br1'])).code).toBe(0);
    expect(await links()).not.toContain(tap);
    expect(await links()).not.toContain('br-banger');
    expect(await natRules()).toEqual([]);
    expect(await resolve('br1.vm')).toBe('');
    expect((await inst.cli(['ssh-config'])).stdout).not.toContain('br1.vm');
    // And nothing ever reached the host's own namespace.
    expect((await run(['ip', 'link', 'show', 'br-banger'], { check: false })).code).not.toBe(0);
  });
});
