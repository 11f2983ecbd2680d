/**
 * Deterministic guest addresses for bridge mode. Pure: a VM's id hashes to a starting host index
 * in the configured CIDR; the first free address from there (wrapping) is its IP, so the same id
 * always gets the same address unless another VM holds it. The first host address is the bridge
 * (the guests' gateway); network and broadcast addresses are never handed out.
 */
import { createHash } from 'node:crypto';
import { BangerError } from '../api/errors.js';

export interface Subnet {
  /** Network address as a 32-bit unsigned number. */
  network: number;
  prefix: number;
  /** Gateway (first host) as dotted quad. */
  gateway: string;
  /** Number of addresses guests may get (excludes network, gateway, broadcast). */
  guestCount: number;
}

const QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function ipToInt(ip: string): number {
  const m = QUAD.exec(ip);
  if (!m) throw new BangerError('bad_request', `"${ip}" is not an IPv4 address (A.B.C.D)`);
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) throw new BangerError('bad_request', `"${ip}" is not an IPv4 address (each part 0-255)`);
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Parses `A.B.C.D/NN` (prefix 16-29: room for a gateway and at least a few guests, not a whole /8). */
export function parseCidr(cidr: string): Subnet {
  const [addr, len, extra] = cidr.split('/');
  const prefix = Number(len);
  if (extra !== undefined || !/^\d{1,2}$/.test(len ?? '') || prefix < 16 || prefix > 29) {
    throw new BangerError('bad_request', `network CIDR "${cidr}" must look like 172.30.0.0/24 with a prefix between /16 and /29`);
  }
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  const base = ipToInt(addr);
  if ((base & mask) >>> 0 !== base) {
    throw new BangerError('bad_request', `network CIDR "${cidr}" has host bits set; did you mean ${intToIp((base & mask) >>> 0)}/${prefix}?`);
  }
  const size = 2 ** (32 - prefix);
  return { network: base, prefix, gateway: intToIp(base + 1), guestCount: size - 3 };
}

/** Is `ip` a guest address of the subnet (not network, gateway or broadcast)? */
export function isGuestAddress(subnet: Subnet, ip: string): boolean {
  const n = ipToInt(ip);
  const off = n - subnet.network;
  return off >= 2 && off < subnet.guestCount + 2;
}

function hash32(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0);
}

/** The guest IPv4 for `key` (the VM id): deterministic, skipping addresses in `taken`. */
export function allocateIp(subnet: Subnet, key: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  const start = hash32(key) % subnet.guestCount;
  for (let i = 0; i < subnet.guestCount; i++) {
    const ip = intToIp(subnet.network + 2 + ((start + i) % subnet.guestCount));
    if (!used.has(ip)) return ip;
  }
  throw new BangerError(
    'conflict',
    `every address of ${intToIp(subnet.network)}/${subnet.prefix} is taken (${subnet.guestCount} guests); delete a bridge-mode VM or configure a larger [network] cidr`,
  );
}

/** A locally administered unicast MAC derived from `key` (QEMU's 52:54:00 prefix). */
export function macFor(key: string): string {
  const b = createHash('sha256').update(`mac:${key}`).digest();
  return ['52', '54', '00', ...[b[0], b[1], b[2]].map((x) => x.toString(16).padStart(2, '0'))].join(':');
}
