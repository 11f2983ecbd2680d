import { describe, expect, it } from 'vitest';
import { bridgeAlias, bridgeOurs, bridgeUsable, isBangerTap, natRules, orphanRuleVms, parseBangerRules, parseLinks, parseRuleComment, splitRuleLine, tapName } from './bridge.js';

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
  it('scopes every rule to the guest /32 and tags it with the install and VM id', () => {
    const rules = natRules({ bridge: 'br-banger', ip: '172.30.0.7', vmId: 'abc', installId: '0badcafe' });
    expect(rules.map((r) => `${r.table}/${r.chain} ${r.spec.join(' ')}`)).toEqual([
      'nat/POSTROUTING -s 172.30.0.7/32 ! -o br-banger -m comment --comment banger:0badcafe:abc -j MASQUERADE',
      'filter/FORWARD -s 172.30.0.7/32 -i br-banger -m comment --comment banger:0badcafe:abc -j ACCEPT',
      'filter/FORWARD -d 172.30.0.7/32 -o br-banger -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment banger:0badcafe:abc -j ACCEPT',
    ]);
    expect(rules.map((r) => r.insert)).toEqual([false, true, true]);
    expect(() => natRules({ bridge: 'b', ip: '172.30.0.7', vmId: 'abc', installId: 'nothex!!' })).toThrow(/install id/);
  });

  it.each([
    ['banger:0badcafe:abc123', { installId: '0badcafe', vmId: 'abc123' }],
    ['banger:abc123', { installId: null, vmId: 'abc123' }],
    ['banger:0badcafe:', null],
    ['banger:0BADCAFE:abc', null],
    ['banger:x y', null],
    ['someone else', null],
  ])('comment %s → %j', (comment, want) => expect(parseRuleComment(comment)).toEqual(want));
});

describe('iptables -S parsing', () => {
  const nat = [
    '-P POSTROUTING ACCEPT',
    '-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE',
    '-A POSTROUTING -s 172.30.0.7/32 ! -o br-banger -m comment --comment "banger:0badcafe:abc" -j MASQUERADE',
    '-A POSTROUTING -s 172.30.0.9/32 ! -o br-banger -m comment --comment "banger:0badcafe:def" -j MASQUERADE',
    '-A POSTROUTING -s 172.30.0.8/32 ! -o br-banger -m comment --comment "banger:11111111:xyz" -j MASQUERADE',
    '-A POSTROUTING -s 172.30.0.6/32 ! -o br-banger -m comment --comment "banger:old" -j MASQUERADE',
    '-A POSTROUTING -m comment --comment "someone else" -j ACCEPT',
    '',
  ].join('\n');

  it('splits quoted words', () => {
    expect(splitRuleLine('-A X -m comment --comment "a b \\"c\\"" -j ACCEPT')).toEqual(['-A', 'X', '-m', 'comment', '--comment', 'a b "c"', '-j', 'ACCEPT']);
    expect(splitRuleLine('  -A  X  ')).toEqual(['-A', 'X']);
    expect(splitRuleLine('--comment ""')).toEqual(['--comment', '']);
  });

  it("finds only this install's rules, with specs ready for -D", () => {
    const rules = parseBangerRules('nat', nat, '0badcafe');
    expect(rules).toEqual([
      { vmId: 'abc', installId: '0badcafe', table: 'nat', chain: 'POSTROUTING', spec: ['-s', '172.30.0.7/32', '!', '-o', 'br-banger', '-m', 'comment', '--comment', 'banger:0badcafe:abc', '-j', 'MASQUERADE'] },
      { vmId: 'def', installId: '0badcafe', table: 'nat', chain: 'POSTROUTING', spec: ['-s', '172.30.0.9/32', '!', '-o', 'br-banger', '-m', 'comment', '--comment', 'banger:0badcafe:def', '-j', 'MASQUERADE'] },
    ]);
    expect(orphanRuleVms(rules, new Set(['abc']))).toEqual(['def']);
    expect(orphanRuleVms(rules, new Set(['abc', 'def']))).toEqual([]);
    // Pre-install-id rules only when asked (the in-process path adopts them so an upgrade cleans up).
    expect(parseBangerRules('nat', nat, '0badcafe', { legacy: true }).map((r) => r.vmId)).toEqual(['abc', 'def', 'old']);
    expect(parseBangerRules('nat', nat, '11111111').map((r) => r.vmId)).toEqual(['xyz']);
  });
});

describe('bridge ownership', () => {
  const mine = { ifname: 'br-banger', ifalias: bridgeAlias('0badcafe') };
  const legacy = { ifname: 'br-banger', ifalias: 'banger-managed' };
  const users = { ifname: 'br-banger' };
  const other = { ifname: 'br-banger', ifalias: bridgeAlias('11111111') };
  it.each([
    // link, strict, usable, ours
    [null, true, true, false],
    [mine, true, true, true],
    [legacy, true, false, false],
    [users, true, false, false],
    [other, true, false, false],
    [legacy, false, true, true],
    [users, false, true, false],
    [other, false, true, false],
  ])('%j strict=%s → usable %s, ours %s', (link, strict, usable, ours) => {
    expect(bridgeUsable(link, '0badcafe', strict)).toBe(usable);
    expect(bridgeOurs(link, '0badcafe', strict)).toBe(ours);
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
