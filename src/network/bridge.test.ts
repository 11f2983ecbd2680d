import { describe, expect, it } from 'vitest';
import { isBangerTap, natRules, orphanRules, parseBangerRules, parseLinks, splitRuleLine, tapName } from './bridge.js';

describe('tapName', () => {
  it.each([
    ['0123456789ab', 'bgr0123456789ab'],
    ['0123456789abcdef', 'bgr0123456789ab'],
    ['AB-cd', 'bgrabcd'],
  ])('%s → %s', (id, tap) => {
    expect(tapName(id)).toBe(tap);
    expect(tapName(id).length).toBeLessThanOrEqual(15);
    expect(isBangerTap(tapName(id))).toBe(true);
  });

  it('recognises only its own taps', () => {
    expect(isBangerTap('tap0')).toBe(false);
    expect(isBangerTap('br-banger')).toBe(false);
    expect(isBangerTap('bgr')).toBe(false);
    expect(() => tapName('---')).toThrow(/cannot derive a tap name/);
  });
});

describe('natRules', () => {
  it('scopes every rule to the guest /32 and tags it with the VM id', () => {
    const rules = natRules({ bridge: 'br-banger', ip: '172.30.0.7', vmId: 'abc' });
    expect(rules.map((r) => `${r.table}/${r.chain} ${r.spec.join(' ')}`)).toEqual([
      'nat/POSTROUTING -s 172.30.0.7/32 ! -o br-banger -m comment --comment banger:abc -j MASQUERADE',
      'filter/FORWARD -s 172.30.0.7/32 -i br-banger -m comment --comment banger:abc -j ACCEPT',
      'filter/FORWARD -d 172.30.0.7/32 -o br-banger -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment banger:abc -j ACCEPT',
    ]);
    expect(rules.map((r) => r.insert)).toEqual([false, true, true]);
  });
});

describe('iptables -S parsing', () => {
  const nat = [
    '-P POSTROUTING ACCEPT',
    '-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE',
    '-A POSTROUTING -s 172.30.0.7/32 ! -o br-banger -m comment --comment "banger:abc" -j MASQUERADE',
    '-A POSTROUTING -s 172.30.0.9/32 ! -o br-banger -m comment --comment "banger:def" -j MASQUERADE',
    '-A POSTROUTING -m comment --comment "someone else" -j ACCEPT',
    '',
  ].join('\n');

  it('splits quoted words', () => {
    expect(splitRuleLine('-A X -m comment --comment "a b \\"c\\"" -j ACCEPT')).toEqual(['-A', 'X', '-m', 'comment', '--comment', 'a b "c"', '-j', 'ACCEPT']);
    expect(splitRuleLine('  -A  X  ')).toEqual(['-A', 'X']);
    expect(splitRuleLine('--comment ""')).toEqual(['--comment', '']);
  });

  it("finds only banger's rules, with specs ready for -D", () => {
    const rules = parseBangerRules('nat', nat);
    expect(rules).toEqual([
      { vmId: 'abc', table: 'nat', chain: 'POSTROUTING', spec: ['-s', '172.30.0.7/32', '!', '-o', 'br-banger', '-m', 'comment', '--comment', 'banger:abc', '-j', 'MASQUERADE'] },
      { vmId: 'def', table: 'nat', chain: 'POSTROUTING', spec: ['-s', '172.30.0.9/32', '!', '-o', 'br-banger', '-m', 'comment', '--comment', 'banger:def', '-j', 'MASQUERADE'] },
    ]);
    expect(orphanRules(rules, new Set(['abc'])).map((r) => r.vmId)).toEqual(['def']);
    expect(orphanRules(rules, new Set(['abc', 'def']))).toEqual([]);
  });
});

describe('parseLinks', () => {
  it('reads ip -j link output', () => {
    const json = JSON.stringify([
      { ifindex: 1, ifname: 'lo', flags: ['LOOPBACK'] },
      { ifindex: 2, ifname: 'br-banger', ifalias: 'banger-managed' },
      { ifindex: 3, ifname: 'bgr0123456789ab', master: 'br-banger' },
    ]);
    expect(parseLinks(json).map((l) => [l.ifname, l.master ?? null])).toEqual([
      ['lo', null],
      ['br-banger', null],
      ['bgr0123456789ab', 'br-banger'],
    ]);
    expect(parseLinks('')).toEqual([]);
    expect(parseLinks('[]')).toEqual([]);
    expect(() => parseLinks('{}')).toThrow(/not a list/);
  });
});
