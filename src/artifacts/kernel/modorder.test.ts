import { describe, expect, it } from 'vitest';
import { GUEST_MODULES, isValidLoadOrder, moduleLoadOrder, normaliseModuleName } from './modorder.js';

/** depends= of Debian 6.1.0-56-cloud-amd64's modules, as read from their .modinfo. */
const DEBIAN_CLOUD_DEPENDS: Record<string, string[]> = {
  virtio_ring: [],
  virtio: ['virtio_ring'],
  virtio_mmio: ['virtio', 'virtio_ring'],
  virtio_pci_modern_dev: [],
  virtio_pci_legacy_dev: [],
  virtio_pci: ['virtio_ring', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio'],
  virtio_blk: ['virtio', 'virtio_ring'],
  failover: [],
  net_failover: ['failover'],
  virtio_net: ['virtio_ring', 'virtio', 'net_failover'],
  virtio_rng: ['virtio', 'virtio_ring'],
  virtio_console: ['virtio', 'virtio_ring'],
  vsock: [],
  vmw_vsock_virtio_transport_common: ['vsock'],
  vmw_vsock_virtio_transport: ['virtio', 'vmw_vsock_virtio_transport_common', 'virtio_ring', 'vsock'],
};

/** The order DESIGN.md gives (measured to boot). */
const DESIGN_ORDER = [
  'virtio_ring',
  'virtio',
  'virtio_mmio',
  'virtio_pci_modern_dev',
  'virtio_pci_legacy_dev',
  'virtio_pci',
  'virtio_blk',
  'failover',
  'net_failover',
  'virtio_net',
];

describe('normaliseModuleName', () => {
  it.each([
    ['virtio-rng', 'virtio_rng'],
    ['virtio-rng.ko', 'virtio_rng'],
    ['kernel/drivers/char/hw_random/virtio-rng.ko', 'virtio_rng'],
    ['virtio_blk.ko.xz', 'virtio_blk'],
    ['net_failover.ko.zst', 'net_failover'],
    ['vsock', 'vsock'],
  ])('%s -> %s', (input, expected) => expect(normaliseModuleName(input)).toBe(expected));
});

describe('moduleLoadOrder', () => {
  it('orders the Debian cloud guest set with every dependency first, wanted order kept', () => {
    const order = moduleLoadOrder(GUEST_MODULES, DEBIAN_CLOUD_DEPENDS);
    expect(order).toEqual([
      'virtio_ring',
      'virtio',
      'virtio_mmio',
      'virtio_pci_modern_dev',
      'virtio_pci_legacy_dev',
      'virtio_pci',
      'virtio_blk',
      'failover',
      'net_failover',
      'virtio_net',
      'virtio_rng',
      'virtio_console',
      'vsock',
      'vmw_vsock_virtio_transport_common',
      'vmw_vsock_virtio_transport',
    ]);
    expect(isValidLoadOrder(order, DEBIAN_CLOUD_DEPENDS)).toBe(true);
  });

  it('accepts the DESIGN.md order as valid', () => {
    expect(isValidLoadOrder(DESIGN_ORDER, DEBIAN_CLOUD_DEPENDS)).toBe(true);
  });

  it('pulls in dependencies that were not asked for, before their dependants', () => {
    expect(moduleLoadOrder(['virtio_net'], DEBIAN_CLOUD_DEPENDS)).toEqual(['virtio_ring', 'virtio', 'failover', 'net_failover', 'virtio_net']);
  });

  it('is stable when wanted names arrive in reverse', () => {
    const order = moduleLoadOrder([...GUEST_MODULES].reverse(), DEBIAN_CLOUD_DEPENDS);
    // The first wanted module (vmw_vsock_virtio_transport) comes right after its own dependencies.
    expect(order.slice(0, 5)).toEqual(['virtio_ring', 'virtio', 'vsock', 'vmw_vsock_virtio_transport_common', 'vmw_vsock_virtio_transport']);
    expect(isValidLoadOrder(order, DEBIAN_CLOUD_DEPENDS)).toBe(true);
    expect(new Set(order).size).toBe(GUEST_MODULES.length);
    expect(moduleLoadOrder([...GUEST_MODULES].reverse(), DEBIAN_CLOUD_DEPENDS)).toEqual(order);
  });

  it("normalises '-' in wanted names and in depends lists", () => {
    expect(moduleLoadOrder(['virtio-rng'], { 'virtio-rng': ['virtio'], virtio: ['virtio-ring'], virtio_ring: [] })).toEqual([
      'virtio_ring',
      'virtio',
      'virtio_rng',
    ]);
  });

  it('names a missing dependency and who needs it', () => {
    expect(() => moduleLoadOrder(['virtio_net'], { virtio_net: ['virtio', 'net_failover'], virtio: [] })).toThrow(
      /kernel module net_failover \(needed by virtio_net\) is not in the kernel's modules/,
    );
  });

  it('names a missing wanted module', () => {
    expect(() => moduleLoadOrder(['nope'], {})).toThrow(/kernel module nope is not/);
  });

  it('names the cycle', () => {
    expect(() => moduleLoadOrder(['a'], { a: ['b'], b: ['c'], c: ['a'] })).toThrow(/cycle: a -> b -> c -> a/);
  });

  it('accepts a Map', () => {
    expect(moduleLoadOrder(['b'], new Map([['a', []], ['b', ['a']]]))).toEqual(['a', 'b']);
  });
});

describe('isValidLoadOrder', () => {
  it.each([
    [['virtio', 'virtio_ring'], false],
    [['virtio_ring', 'virtio'], true],
    [['unknown'], false],
  ])('%j -> %s', (order, valid) => expect(isValidLoadOrder(order, DEBIAN_CLOUD_DEPENDS)).toBe(valid));
});
