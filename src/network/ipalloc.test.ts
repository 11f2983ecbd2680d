import { describe, expect, it } from 'vitest';
import { allocateIp, intToIp, ipToInt, isGuestAddress, macFor, parseCidr } from './ipalloc.js';

describe('parseCidr', () => {
  it.each([
    ['172.30.0.0/24', { gateway: '172.30.0.1', guestCount: 253, prefix: 24 }],
    ['10.20.0.0/16', { gateway: '10.20.0.1', guestCount: 65533, prefix: 16 }],
    ['192.168.7.8/29', { gateway: '192.168.7.9', guestCount: 5, prefix: 29 }],
  ])('%s', (cidr, want) => {
    expect(parseCidr(cidr)).toMatchObject(want);
  });

  it.each([
    ['172.30.0.0', /must look like/],
    ['172.30.0.0/8', /between \/16 and \/29/],
    ['172.30.0.0/30', /between/],
    ['172.30.0.5/24', /host bits set; did you mean 172.30.0.0\/24/],
    ['172.300.0.0/24', /each part 0-255/],
    ['a.b.c.d/24', /not an IPv4/],
    ['172.30.0.0/24/1', /must look like/],
  ])('rejects %s', (cidr, msg) => {
    expect(() => parseCidr(cidr)).toThrow(msg);
  });
});

describe('allocateIp', () => {
  const s = parseCidr('172.30.0.0/24');

  it('is deterministic for a key and stays inside the guest range', () => {
    const a = allocateIp(s, 'abc123', []);
    expect(allocateIp(s, 'abc123', [])).toBe(a);
    for (const k of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) expect(isGuestAddress(s, allocateIp(s, k, []))).toBe(true);
  });

  it('skips taken addresses and wraps around', () => {
    const first = allocateIp(s, 'k', []);
    const second = allocateIp(s, 'k', [first]);
    expect(second).not.toBe(first);
    expect(ipToInt(second) - ipToInt(first)).toSatisfy((d: number) => d === 1 || d === -252);
  });

  it('never hands out network, gateway or broadcast, and fails with a fix when full', () => {
    const tiny = parseCidr('192.168.7.8/29');
    const got: string[] = [];
    for (let i = 0; i < tiny.guestCount; i++) got.push(allocateIp(tiny, `vm${i}`, got));
    expect(got.sort()).toEqual(['192.168.7.10', '192.168.7.11', '192.168.7.12', '192.168.7.13', '192.168.7.14']);
    expect(() => allocateIp(tiny, 'one-more', got)).toThrow(/every address of 192.168.7.8\/29 is taken.*larger \[network\] cidr/);
  });

  it('spreads keys across the range', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) seen.add(allocateIp(s, `id-${i}`, []));
    expect(seen.size).toBeGreaterThan(35);
  });
});

describe('addresses', () => {
  it('round-trips dotted quads', () => {
    for (const ip of ['0.0.0.0', '255.255.255.255', '172.30.0.1', '10.0.2.15']) expect(intToIp(ipToInt(ip))).toBe(ip);
  });

  it('derives stable locally administered MACs', () => {
    expect(macFor('x')).toBe(macFor('x'));
    expect(macFor('x')).not.toBe(macFor('y'));
    expect(macFor('x')).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
  });
});
