import { describe, expect, it } from 'vitest';
import { tapOwnerOf, tapsOf } from './bridge.js';
import { forwardingRecordText, forwardingToRecord, forwardingToRestore, recordedForwarding, guardChain, guardRules, parseGuardChains } from './bridge-guard.js';

describe('guard rules', () => {
  it('allow only the MAC, IPv4 from the address and ARP about it; drop the rest', () => {
    expect(guardRules('172.30.0.7', '52:54:00:AB:CD:EF')).toEqual([
      ['-s', '!', '52:54:00:ab:cd:ef', '-j', 'DROP'],
      ['-p', 'IPv4', '--ip-src', '!', '172.30.0.7', '-j', 'DROP'],
      ['-p', 'ARP', '--arp-ip-src', '!', '172.30.0.7', '-j', 'DROP'],
      ['-p', 'ARP', '--arp-mac-src', '!', '52:54:00:ab:cd:ef', '-j', 'DROP'],
      ['-p', 'IPv4', '-j', 'RETURN'],
      ['-p', 'ARP', '-j', 'RETURN'],
      ['-j', 'DROP'],
    ]);
  });
  it.each([
    ['bad MAC', '172.30.0.7', 'zz', /MAC address/],
    ['bad address', '172.30.0.999', '52:54:00:00:00:01', /not an IPv4/],
    ['option-looking address', '-j ACCEPT', '52:54:00:00:00:01', /not an IPv4/],
  ])('refuses a %s', (_l, ip, mac, message) => {
    expect(() => guardRules(ip, mac)).toThrow(message);
  });
  it('names the chain after the install and the tap, within 31 characters', () => {
    expect(guardChain('feedf00d', 'bgr0123456789ab')).toBe('banger-feedf00d-0123456789ab');
    expect(guardChain('feedf00d', 'bgr0123456789ab').length).toBeLessThanOrEqual(31);
    expect(() => guardChain('feedf00d', 'eth0')).toThrow();
  });
  it("lists only this install's guard chains", () => {
    const listing = [
      'Bridge table: filter',
      'Bridge chain: INPUT, entries: 2, policy: ACCEPT',
      '-i bgr0123456789ab -j banger-feedf00d-0123456789ab',
      'Bridge chain: banger-feedf00d-0123456789ab, entries: 7, policy: RETURN',
      'Bridge chain: banger-0badcafe-aaaaaaaaaaaa, entries: 7, policy: RETURN',
      'Bridge chain: banger-feedf00d-EVIL!, entries: 0, policy: RETURN',
    ].join('\n');
    expect(parseGuardChains(listing, 'feedf00d')).toEqual(['bgr0123456789ab']);
  });
});

describe('ip_forward bookkeeping', () => {
  it.each([
    ['0\n', '0'],
    ['1\n', null],
  ])('before enabling it reads %j: records %j', (cur, want) => {
    expect(forwardingToRecord(cur)).toBe(want);
  });
  it.each([
    ['recorded 0, no banger bridge left', '0\n', 0, '0'],
    ['recorded 0, another banger bridge left', '0\n', 1, null],
    ['nothing recorded (it was on)', null, 0, null],
  ] as const)('%s', (_l, recorded, left, want) => {
    expect(forwardingToRestore(recorded, left)).toBe(want);
  });
});

describe('the ip_forward record', () => {
  it.each([
    ['its own namespace', forwardingRecordText('0', 'ino:4026531840'), 'ino:4026531840', '0'],
    ["another namespace's", forwardingRecordText('0', 'netns:bt-x'), 'ino:4026531840', null],
    ['garbage', '0; reboot\n', 'ino:1', null],
    ['absent', null, 'ino:1', null],
  ] as const)('%s', (_l, text, ns, want) => {
    expect(recordedForwarding(text, ns)).toBe(want);
  });
});

describe('tap ownership (ifalias)', () => {
  const links = [
    { ifname: 'bgraaaaaaaaaaaa', ifalias: 'banger:feedf00d:aaaaaaaaaaaa' },
    { ifname: 'bgrbbbbbbbbbbbb', ifalias: 'banger:0badcafe:bbbbbbbbbbbb' },
    { ifname: 'bgrcccccccccccc' }, // untagged, idle
    { ifname: 'bgrdddddddddddd', flags: ['UP', 'LOWER_UP'] }, // untagged, open
    { ifname: 'bgreeeeeeeeeeee', ifalias: 'something else' },
    { ifname: 'eth0', ifalias: 'banger:feedf00d:x' },
  ];
  it.each([
    ['not strict: its own plus idle untagged ones', false, ['bgraaaaaaaaaaaa', 'bgrcccccccccccc']],
    ['strict (bangerd-root): its own only', true, ['bgraaaaaaaaaaaa']],
  ])('%s', (_l, strict, want) => {
    expect(tapsOf(links, 'feedf00d', strict)).toEqual(want);
  });
  it.each([
    [links[0], 'ours'],
    [links[1], 'other'],
    [links[2], 'untagged'],
    [links[4], 'other'],
  ] as const)('%j is %s', (l, want) => {
    expect(tapOwnerOf(l, 'feedf00d')).toBe(want);
  });
});
