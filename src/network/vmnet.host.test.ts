/**
 * The lifecycle hooks against real `ip`/`iptables` in a network namespace this test creates and
 * deletes, and a real DNS server on 127.0.0.1 — everything bridge mode does on the host, minus QEMU.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vm } from '../api/vm.js';
import { parseConfig } from '../config/config.js';
import { run } from '../host/exec.js';
import { silentLogger } from '../host/logger.js';
import type { VmRecord } from '../store/vms.js';
import { createBridgeOps } from './bridge.js';
import { startDnsServer, type DnsServer } from './dns.js';
import { queryA } from './dns-query.js';
import { createVmNetworking, pickResolver, type VmNetworking } from './vmnet.js';

const NS = `bt-vmnet-${process.pid}`;
const inNs = (argv: string[]) => run(argv, { netns: NS, check: false });
const config = parseConfig('[network]\ncidr = "172.30.5.0/24"\nbridge = "br-test"\nguest_dns = "192.0.2.53"\n', 'config.toml', { cores: 2, memoryMib: 2048, home: '/root', jailerChrootBase: '/tmp/jailer' });
const dir = mkdtempSync(join(tmpdir(), 'bt-vmnet-'));
const sshConfigPath = join(dir, 'ssh', 'config');
let dns: DnsServer;
let net: VmNetworking;

const root = process.getuid?.() === 0;
beforeAll(async () => {
  if (root) await run(['ip', 'netns', 'add', NS]);
  dns = await startDnsServer({ host: '127.0.0.1', port: 0, log: silentLogger });
  net = createVmNetworking({
    config,
    log: silentLogger,
    bridge: createBridgeOps({ netns: NS, installId: 'feedf00d' }),
    dns,
    sshConfig: { path: sshConfigPath, identity: { keyPath: '/k', knownHostsPath: '/kh' } },
    cannotBridge: () => null,
  });
});
afterAll(async () => {
  await dns?.close();
  await run(['ip', 'netns', 'del', NS], { check: false });
  rmSync(dir, { recursive: true, force: true });
});

const rec = (id: string, name: string, network: VmRecord['network']): VmRecord => ({
  id,
  name,
  image: 'img',
  kernel: 'k',
  vcpu: 1,
  memoryMib: 512,
  diskSizeBytes: 1,
  network,
  state: 'stopped',
  workspace: null,
  createdAt: '',
  updatedAt: '',
});
const asVm = (r: VmRecord, state: Vm['state'], ssh: Vm['ssh'] = null): Vm => ({ ...r, state, reasons: [], pid: null, accel: null, ssh });
const noProgress = () => {};
const links = async () => JSON.parse((await inNs(['ip', '-j', 'link', 'show'])).stdout).map((l: { ifname: string }) => l.ifname) as string[];
const natRules = async () => (await inNs(['iptables', '-t', 'nat', '-S', 'POSTROUTING'])).stdout.split('\n').filter((l) => l.includes('banger:'));

describe('assign', () => {
  it('gives bridge VMs a deterministic address and MAC and refuses contradictions', () => {
    const a = net.assign({ id: 'aaaaaaaaaaaa', mode: 'bridge', egress: true, nat: true }, []);
    expect(a).toMatchObject({ mode: 'bridge', nat: true, egress: true, ip: expect.stringMatching(/^172\.30\.5\.\d+$/), mac: expect.stringMatching(/^52:54:00/) });
    expect(net.assign({ id: 'aaaaaaaaaaaa', mode: 'bridge', egress: true, nat: true }, [])).toEqual(a);
    const b = net.assign({ id: 'aaaaaaaaaaaa', mode: 'bridge', egress: true, nat: false }, [a]);
    expect(b.ip).not.toBe(a.ip);
    expect(b.egress).toBe(false);
    expect(net.assign({ id: 'x', mode: 'user', egress: false, nat: false }, [])).toEqual({ mode: 'user', egress: false, nat: false });
    expect(() => net.assign({ id: 'x', mode: 'user', egress: true, nat: true }, [])).toThrow(/--nat applies to bridge mode/);
    expect(() => net.assign({ id: 'x', mode: 'bridge', egress: false, nat: true }, [])).toThrow(/contradict/);
    const user = createVmNetworking({ config, log: silentLogger });
    expect(() => user.assign({ id: 'x', mode: 'bridge', egress: true, nat: false }, [])).toThrow(/needs root.*sudo banger system install/);
    expect(() => net.checkNat({ mode: 'user', egress: true, nat: false }, true, 'web')).toThrow(/user-mode networking/);
  });
});

describe.skipIf(!root)('bridge lifecycle on the host side (root)', () => {
  const one = rec('111111111111', 'one', { mode: 'bridge', egress: true, nat: true, ip: '172.30.5.10', mac: '52:54:00:00:00:10' });
  const two = rec('222222222222', 'two', { mode: 'bridge', egress: false, nat: false, ip: '172.30.5.11', mac: '52:54:00:00:00:11' });

  it('prepares bridge, tap and NAT; the guest gets its static address and resolver', async () => {
    const p = await net.prepare(one, noProgress);
    expect(p.spec).toEqual({ mode: 'bridge', tap: 'bgr111111111111', mac: '52:54:00:00:00:10' });
    expect(p.boot).toEqual({ ip: '172.30.5.10', prefix: 24, gateway: '172.30.5.1', dns: '192.0.2.53' });
    expect(p.ssh).toEqual({ host: '172.30.5.10', port: 22 });
    await net.prepare(one, noProgress); // idempotent (stop/start)
    await net.prepare(two, noProgress);
    expect(await links()).toEqual(expect.arrayContaining(['br-test', 'bgr111111111111', 'bgr222222222222']));
    expect(await natRules()).toEqual(['-A POSTROUTING -s 172.30.5.10/32 ! -o br-test -m comment --comment "banger:feedf00d:111111111111" -j MASQUERADE']);
    expect((await inNs(['cat', '/proc/sys/net/ipv4/ip_forward'])).stdout.trim()).toBe('1');
  });

  it('publishes DNS records and ssh_config for running VMs only', async () => {
    await net.publish([asVm(one, 'running'), asVm(two, 'stopped'), asVm(rec('333', 'usr', { mode: 'user', egress: false, nat: false }), 'running', { host: '127.0.0.1', port: 40022 })]);
    expect(await queryA(dns.address(), 'one.vm')).toMatchObject({ rcode: 'NOERROR', addresses: ['172.30.5.10'] });
    expect(await queryA(dns.address(), 'usr.vm')).toMatchObject({ addresses: ['127.0.0.1'] });
    expect((await queryA(dns.address(), 'two.vm')).rcode).toBe('NXDOMAIN');
    const cfg = readFileSync(sshConfigPath, 'utf8');
    expect(cfg).toContain('Host one.vm\n  HostName 172.30.5.10\n');
    expect(cfg).toContain('Host usr.vm\n  HostName 127.0.0.1\n  Port 40022\n');
  });

  it('switching NAT off while stopped removes the rule at the next start', async () => {
    await net.prepare({ ...one, network: { ...one.network, nat: false } }, noProgress);
    expect(await natRules()).toEqual([]);
    await net.prepare(one, noProgress);
    expect(await natRules()).toHaveLength(1);
  });

  it('release removes tap and rules, and the bridge with the last tap', async () => {
    await net.release(one);
    expect(await natRules()).toEqual([]);
    expect(await links()).not.toContain('bgr111111111111');
    expect(await links()).toContain('br-test'); // two still has its tap
    await net.release(two);
    await net.release(two); // idempotent (delete after stop)
    expect((await links()).filter((l) => l !== 'lo')).toEqual([]);
  });

  it('reconcile removes what a crash left, keeps what running VMs use', async () => {
    await net.prepare(one, noProgress);
    await net.prepare(two, noProgress);
    // Daemon restarts: only `two` still runs.
    const r1 = await net.reconcile([two]);
    expect(r1).toEqual({ removedTaps: ['bgr111111111111'], removedRules: 3, bridgeRemoved: false });
    expect(await natRules()).toEqual([]);
    expect(await links()).toEqual(expect.arrayContaining(['br-test', 'bgr222222222222']));
    // Nothing runs any more: the rest goes.
    const r2 = await net.reconcile([]);
    expect(r2).toEqual({ removedTaps: ['bgr222222222222'], removedRules: 0, bridgeRemoved: true });
    expect((await links()).filter((l) => l !== 'lo')).toEqual([]);
    expect(await net.reconcile([])).toEqual({ removedTaps: [], removedRules: 0, bridgeRemoved: false });
  });
});

describe('user mode', () => {
  it('picks ports and moves recorded forwards off taken host ports', async () => {
    const r = rec('444', 'u', { mode: 'user', egress: false, nat: false, forwards: [{ guestPort: 80, hostPort: null }] });
    const msgs: string[] = [];
    const p = await net.prepare(r, (_s, m) => msgs.push(m ?? ''));
    expect(p.spec).toMatchObject({ mode: 'user', egress: false });
    expect(p.forwards).toHaveLength(1);
    expect(p.forwards[0].hostPort).not.toBe(p.ssh.port);
    expect(p.network.forwards).toEqual([{ guestPort: 80, hostPort: p.forwards[0].hostPort }]);
    // Its recorded port is now taken by the SSH port of this start: it moves, and says so.
    const again = await net.prepare({ ...r, network: { ...r.network, forwards: [{ guestPort: 80, hostPort: p.ssh.port }] } }, (_s, m) => msgs.push(m ?? ''));
    expect(again.forwards[0].hostPort).not.toBe(again.ssh.port);
    expect(p.boot).toEqual({ ip: '10.0.2.15', prefix: 24, gateway: '10.0.2.2', dns: '10.0.2.3' });
  });
});

describe('pickResolver', () => {
  it.each([
    [['nameserver 127.0.0.53\n', 'nameserver 10.1.2.3\n'], '10.1.2.3'],
    [['# c\nnameserver 192.168.1.1\nnameserver 8.8.8.8\n'], '192.168.1.1'],
    [['nameserver ::1\nnameserver 127.0.0.1\n'], null],
    [[''], null],
  ])('%j → %s', (texts, want) => expect(pickResolver(texts)).toBe(want));
});

describe.skipIf(!root)("the original's flat keys: bridge_name, cidr, bridge_ip, default_dns (root)", () => {
  const flat = parseConfig('bridge_name = "br-flat"\ncidr = "172.30.6.0/29"\nbridge_ip = "172.30.6.6"\ndefault_dns = "192.0.2.54"\n', 'config.toml', {
    cores: 2,
    memoryMib: 2048,
    home: '/root',
    jailerChrootBase: '/tmp/jailer',
  });
  const fnet = () => createVmNetworking({ config: flat, log: silentLogger, bridge: createBridgeOps({ netns: NS, installId: 'feedf00d' }), cannotBridge: () => null });

  it('never hands out bridge_ip; the bridge carries it and guests use it as their gateway', async () => {
    const n = fnet();
    const taken: VmRecord['network'][] = [];
    for (let i = 0; i < 4; i++) taken.push(n.assign({ id: `vm${i}`, mode: 'bridge', egress: false, nat: false }, taken));
    expect(taken.map((t) => t.ip).sort()).toEqual(['172.30.6.2', '172.30.6.3', '172.30.6.4', '172.30.6.5']);
    expect(() => n.assign({ id: 'vm4', mode: 'bridge', egress: false, nat: false }, taken)).toThrow(/every address/);

    const vm = rec('333333333333', 'flat', taken[0]);
    const p = await n.prepare(vm, noProgress);
    expect(p.boot).toEqual({ ip: taken[0].ip, prefix: 29, gateway: '172.30.6.6', dns: '192.0.2.54' });
    const addrs = JSON.parse((await inNs(['ip', '-j', 'addr', 'show', 'br-flat'])).stdout) as Array<{ addr_info: Array<{ local: string; prefixlen: number }> }>;
    expect(addrs[0].addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toContain('172.30.6.6/29');
    await n.release(vm);
    expect(await links()).not.toContain('br-flat');
  });
});
