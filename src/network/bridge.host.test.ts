/**
 * The bridge ops against the real `ip` and `iptables`, inside a network namespace this test creates
 * and deletes (nothing touches the host's own namespace).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../host/exec.js';
import { createBridgeOps, natRules, tapName } from './bridge.js';

const NS = `bt-br-${process.pid}`;
const ops = createBridgeOps({ netns: NS, installId: 'feedf00d' });
const exists = async (name: string) => (await ops.link(name)) !== null;
const inNs = (argv: string[]) => run(argv, { netns: NS, check: false });

const root = process.getuid?.() === 0;
beforeAll(async () => {
  if (root) await run(['ip', 'netns', 'add', NS]);
});
afterAll(async () => {
  if (root) await run(['ip', 'netns', 'del', NS], { check: false });
});

describe.skipIf(process.getuid?.() !== 0)('bridge ops in a private namespace (root)', () => {
  const tap = tapName('0123456789ab');
  const rules = natRules({ bridge: 'br-banger', ip: '172.30.0.7', vmId: '0123456789ab', installId: 'feedf00d' });

  it('creates bridge and tap idempotently, and removes the bridge only once idle', async () => {
    for (let i = 0; i < 2; i++) {
      await ops.ensureBridge('br-banger', '172.30.0.1/24');
      expect(await ops.ensureTap('0123456789ab', 'br-banger')).toBe(tap);
    }
    const addr = await inNs(['ip', '-j', 'addr', 'show', 'dev', 'br-banger']);
    expect(addr.stdout).toContain('"local":"172.30.0.1"');
    const master = await inNs(['ip', '-j', 'link', 'show', 'master', 'br-banger']);
    expect(JSON.parse(master.stdout).map((l: { ifname: string }) => l.ifname)).toEqual([tap]);
    expect(await ops.listTaps()).toEqual([tap]);

    expect(await ops.removeBridgeIfIdle('br-banger')).toBe(false); // the tap is still attached
    await ops.removeTap(tap);
    await ops.removeTap(tap);
    expect(await exists(tap)).toBe(false);
    expect(await ops.removeBridgeIfIdle('br-banger')).toBe(true);
    expect(await exists('br-banger')).toBe(false);
    expect(await ops.removeBridgeIfIdle('br-banger')).toBe(false);
  });

  it('leaves a bridge it did not create alone', async () => {
    await inNs(['ip', 'link', 'add', 'br-user', 'type', 'bridge']);
    await ops.ensureBridge('br-user', '172.31.0.1/24');
    expect(await ops.removeBridgeIfIdle('br-user')).toBe(false);
    expect(await exists('br-user')).toBe(true);
    await inNs(['ip', 'link', 'del', 'br-user']);
  });

  it('adds NAT rules once, lists them by VM, and removes every copy', async () => {
    await ops.ensureRules(rules);
    await ops.ensureRules(rules);
    const listed = await ops.listRules();
    expect(listed.map((r) => `${r.table}/${r.chain}/${r.vmId}`)).toEqual([
      'nat/POSTROUTING/0123456789ab',
      'filter/FORWARD/0123456789ab',
      'filter/FORWARD/0123456789ab',
    ]);
    const nat = await inNs(['iptables', '-t', 'nat', '-S', 'POSTROUTING']);
    expect(nat.stdout.match(/MASQUERADE/g)).toHaveLength(1);
    // A duplicate added behind banger's back (a crash between check and add) is removed too.
    await inNs(['iptables', '-t', 'nat', '-A', 'POSTROUTING', ...rules[0].spec]);
    await ops.removeRules(rules);
    expect(await ops.listRules()).toEqual([]);
    // Removing a listed (orphan) rule by its parsed spec works the same way.
    await ops.ensureRules(rules);
    await ops.removeRules(await ops.listRules());
    expect(await ops.listRules()).toEqual([]);
  });

  it('turns on forwarding inside the namespace only', async () => {
    const hostBefore = (await run(['cat', '/proc/sys/net/ipv4/ip_forward'])).stdout;
    await ops.enableForwarding();
    expect((await inNs(['cat', '/proc/sys/net/ipv4/ip_forward'])).stdout.trim()).toBe('1');
    expect((await run(['cat', '/proc/sys/net/ipv4/ip_forward'])).stdout).toBe(hostBefore);
  });
});
