/**
 * Issue 11 items 10 and 11 against the real `ip`, `bridge`, `ebtables`, `iptables` and sysctl, inside a
 * network namespace this test creates and deletes: a tap's guard drops frames that spoof another
 * MAC or address (real frames written into the tap by a process holding it open, counted by
 * ebtables), taps are isolated bridge ports, ip_forward is restored when the last banger bridge
 * goes away, and one install's start-up cleanup leaves another install's taps, guards and rules.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../config/config.js';
import { run, spawnProcess } from '../host/exec.js';
import { silentLogger } from '../host/logger.js';
import type { VmRecord } from '../store/vms.js';
import { createBridgeOps, natRules, tapName } from './bridge.js';
import { guardChain } from './bridge-guard.js';
import { createVmNetworking } from './vmnet.js';

const NS = `bt-guard-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'bt-guard-'));
const inNs = (argv: string[]) => run(argv, { netns: NS, check: false });
const A = 'aaaaaaa1';
const B = 'bbbbbbb2';
const opsA = createBridgeOps({ netns: NS, installId: A, forwardingRecord: join(dir, 'fwd') });
const opsB = createBridgeOps({ netns: NS, installId: B, forwardingRecord: join(dir, 'fwd') });
const sysctl = async () => (await inNs(['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim();

// Writes Ethernet frames (hex, one per argument) into tap argv[1], holding it open like QEMU does.
const WRITE_FRAMES = `
import fcntl, os, struct, sys, time
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', sys.argv[1].encode(), 0x0002 | 0x1000))
time.sleep(0.3)
for h in sys.argv[2:]:
    os.write(fd, bytes.fromhex(h))
time.sleep(0.3)
`;
/** An Ethernet frame: IPv4 UDP src → 172.30.7.1 (the bridge), or ARP "who has .1, tell src". */
function frame(kind: 'ipv4' | 'arp', mac: string, src: string): string {
  const m = mac.replaceAll(':', '');
  const ip = (a: string) => a.split('.').map((n) => Number(n).toString(16).padStart(2, '0')).join('');
  if (kind === 'arp') return `ffffffffffff${m}0806` + `0001080006040001${m}${ip(src)}000000000000${ip('172.30.7.1')}` + '00'.repeat(18);
  // A valid IPv4 header (the bridge's netfilter drops bad checksums before ebtables sees them).
  const header = `4500001c000040004011` + `0000${ip(src)}${ip('172.30.7.1')}`;
  let sum = 0;
  for (let i = 0; i < header.length; i += 4) sum += parseInt(header.slice(i, i + 4), 16);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  const checksum = (~sum & 0xffff).toString(16).padStart(4, '0');
  const body = header.slice(0, 20) + checksum + header.slice(24) + `303930390008` + `0000`;
  return `ffffffffffff${m}0800${body}` + '00'.repeat(18);
}
/** Packet counters of a guard chain's rules, in order. */
async function counters(chain: string): Promise<number[]> {
  const out = (await inNs(['ebtables', '-t', 'filter', '-L', chain, '--Lc'])).stdout;
  return [...out.matchAll(/pcnt = (\d+)/g)].map((m) => Number(m[1]));
}

const root = process.getuid?.() === 0;
beforeAll(async () => {
  if (root) await run(['ip', 'netns', 'add', NS]);
});
afterAll(async () => {
  await run(['ip', 'netns', 'del', NS], { check: false });
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!root)('bridge guard, isolation, ip_forward and per-install cleanup (netns)', () => {
  const vmA = '0123456789ab';
  const vmA2 = '0a0a0a0a0a0a';
  const vmB = 'b0b0b0b0b0b0';
  const macA = '52:54:00:00:00:0a';

  it('binds a tap to its MAC and address: spoofed frames are dropped, its own pass; the port is isolated', async () => {
    await opsA.ensureBridge('br-a', '172.30.7.1/24');
    const tap = await opsA.ensureTap(vmA, 'br-a', { ip: '172.30.7.10', mac: macA });
    await opsA.ensureTap(vmA, 'br-a', { ip: '172.30.7.10', mac: macA }); // idempotent
    const chain = guardChain(A, tap);
    const jumps = (await inNs(['ebtables', '-t', 'filter', '-L'])).stdout.match(new RegExp(`-i ${tap} -j ${chain}`, 'g'));
    expect(jumps).toHaveLength(2); // INPUT and FORWARD, once each
    expect((await inNs(['bridge', '-d', 'link', 'show', 'dev', tap])).stdout).toMatch(/isolated on/);

    const frames = [
      frame('ipv4', '52:54:00:00:00:0b', '172.30.7.10'), // a sibling's MAC
      frame('ipv4', macA, '172.30.7.11'), // a sibling's address
      frame('arp', macA, '172.30.7.11'), // ARP claiming a sibling's address
      frame('ipv4', macA, '172.30.7.10'), // its own: passes
      frame('arp', macA, '172.30.7.10'), // its own ARP: passes
    ];
    const w = spawnProcess(['python3', '-c', WRITE_FRAMES, tap, ...frames], { netns: NS, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    w.child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    expect(await w.exit, err).toBe(0);
    // Rules: bad MAC, bad IPv4 source, bad ARP address, bad ARP MAC, IPv4 ok, ARP ok, the rest.
    expect(await counters(chain)).toEqual([1, 1, 1, 0, 1, 1, 0]);
  });

  it('switches ip_forward on for NAT and puts it back when the last banger bridge goes away', async () => {
    expect(await sysctl()).toBe('0'); // a fresh namespace
    await opsA.enableForwarding();
    await opsA.enableForwarding();
    expect(await sysctl()).toBe('1');
    await opsB.ensureBridge('br-b', '172.30.8.1/24');
    await opsA.removeTap(tapName(vmA));
    expect(await opsA.removeBridgeIfIdle('br-a')).toBe(true);
    expect(await sysctl()).toBe('1'); // install B's bridge is still there
    expect(await opsB.removeBridgeIfIdle('br-b')).toBe(true);
    expect(await sysctl()).toBe('0');
    // Already on before banger: left on.
    await inNs(['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    await opsA.enableForwarding();
    await opsA.ensureBridge('br-a', '172.30.7.1/24');
    expect(await opsA.removeBridgeIfIdle('br-a')).toBe(true);
    expect(await sysctl()).toBe('1');
    await inNs(['sysctl', '-qw', 'net.ipv4.ip_forward=0']);
  });

  it("one install's start-up cleanup leaves another install's taps, guards and NAT rules alone", async () => {
    await opsA.ensureBridge('br-a', '172.30.7.1/24');
    await opsB.ensureBridge('br-b', '172.30.8.1/24');
    await opsA.ensureTap(vmA2, 'br-a', { ip: '172.30.7.12', mac: '52:54:00:00:00:0c' });
    await opsA.ensureNat({ vmId: vmA2, ip: '172.30.7.12', bridge: 'br-a' });
    await opsB.ensureTap(vmB, 'br-b', { ip: '172.30.8.10', mac: '52:54:00:00:00:0d' });
    await opsB.ensureNat({ vmId: vmB, ip: '172.30.8.10', bridge: 'br-b' });
    expect(await opsA.listTaps()).toEqual([tapName(vmA2)]);
    expect(await opsB.listTaps()).toEqual([tapName(vmB)]);
    // Install B cannot remove A's tap by name either.
    await expect(opsB.removeTap(tapName(vmA2))).rejects.toMatchObject({ code: 'conflict' });

    // Install A's daemon starts with no running VMs: reconcile removes what is A's only.
    const config = parseConfig('[network]\ncidr = "172.30.7.0/24"\nbridge = "br-a"\n', 'config.toml', { cores: 2, memoryMib: 2048, home: '/root', jailerChrootBase: '/tmp/jailer' });
    const net = createVmNetworking({ config, log: silentLogger, bridge: opsA, cannotBridge: () => null });
    const report = await net.reconcile([] as VmRecord[]);
    expect(report.removedTaps).toEqual([tapName(vmA2)]);
    expect((await opsA.link(tapName(vmA2))) === null).toBe(true);
    expect(await opsA.listRules()).toEqual([]);

    expect(await opsB.link(tapName(vmB))).not.toBeNull();
    expect((await opsB.listRules()).map((r) => r.vmId)).toEqual([vmB, vmB, vmB]);
    expect((await inNs(['ebtables', '-t', 'filter', '-L'])).stdout).toContain(guardChain(B, tapName(vmB)));
    expect((await inNs(['iptables', '-t', 'nat', '-S', 'POSTROUTING'])).stdout).toContain(natRules({ bridge: 'br-b', ip: '172.30.8.10', vmId: vmB, installId: B })[0].spec[1]);
  });
});
