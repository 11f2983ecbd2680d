import { describe, expect, it } from 'vitest';
import { BangerError } from '../api/errors.js';
import { derivedDefaults, parseConfig } from './config.js';

const host = { cores: 2, memoryMib: 24 * 1024 };

describe('parseConfig', () => {
  it('gives defaults derived from the host for an empty file', () => {
    const c = parseConfig('', '/x/config.toml', host);
    expect(c.hypervisor).toBe('auto');
    expect(c.accel).toBe('auto');
    expect(c.defaultImageName).toBe('debian-bookworm');
    expect(c.vmDefaults).toEqual(derivedDefaults(host));
    expect(c.vmDefaults.vcpu).toBe(1);
    expect(c.vmDefaults.memoryMib).toBe(2048);
  });

  it('reads every documented key', () => {
    const c = parseConfig(
      'default_image_name = "mine"\nhypervisor = "qemu"\naccel = "tcg"\nssh_key_path = "/k"\n[vm_defaults]\nvcpu = 3\nmemory_mib = 2048\ndisk_size = "10G"\n',
      'f',
      host,
    );
    expect(c).toMatchObject({ defaultImageName: 'mine', hypervisor: 'qemu', accel: 'tcg', sshKeyPath: '/k' });
    expect(c.vmDefaults).toEqual({ vcpu: 3, memoryMib: 2048, diskSizeBytes: 10 * 1024 ** 3 });
  });

  it.each([
    ['hypervisor = "vmware"', 'hypervisor'],
    ['[vm_defaults]\nvcpu = 0', 'vm_defaults.vcpu'],
    ['[vm_defaults]\ndisk_size = "lots"', 'vm_defaults.disk_size'],
    ['colour = "red"', 'colour'],
    ['default_image_name = "Bad_Name"', 'default_image_name'],
  ])('rejects %j naming the key and the file', (text, key) => {
    try {
      parseConfig(text, '/home/u/.config/banger/config.toml', host);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(BangerError);
      expect((err as BangerError).code).toBe('bad_request');
      expect((err as BangerError).message).toContain('/home/u/.config/banger/config.toml');
      expect((err as BangerError).message).toContain(key);
    }
  });

  it('rejects broken TOML with the file name', () => {
    expect(() => parseConfig('a = = 1', '/c.toml', host)).toThrow(/\/c.toml: not valid TOML/);
  });

  it('derives floors on a small host', () => {
    expect(derivedDefaults({ cores: 1, memoryMib: 1024 })).toEqual({ vcpu: 1, memoryMib: 512, diskSizeBytes: 8 * 1024 ** 3 });
  });
});

describe('parseConfig [network]', () => {
  it('defaults: br-banger, 172.30.0.0/24, DNS on 127.0.0.1:42069, guest resolver from the host', () => {
    expect(parseConfig('', 'f', host).network).toEqual({ bridge: 'br-banger', cidr: '172.30.0.0/24', dnsAddress: '127.0.0.1', dnsPort: 42069, guestDns: null });
  });

  it('reads every key', () => {
    const c = parseConfig('[network]\nbridge = "br0"\ncidr = "10.9.0.0/16"\ndns_address = "127.0.0.2"\ndns_port = 5353\nguest_dns = "9.9.9.9"\n', 'f', host);
    expect(c.network).toEqual({ bridge: 'br0', cidr: '10.9.0.0/16', dnsAddress: '127.0.0.2', dnsPort: 5353, guestDns: '9.9.9.9' });
  });

  it.each([
    ['[network]\nbridge = "a-very-long-bridge-name"', 'network.bridge'],
    ['[network]\ncidr = "10.0.0.0"', 'network.cidr'],
    ['[network]\ndns_port = 70000', 'network.dns_port'],
    ['[network]\ndns_address = "localhost"', 'network.dns_address'],
    ['[network]\nnope = 1', 'nope'],
  ])('rejects %j naming %s', (text, key) => {
    expect(() => parseConfig(text, 'f', host)).toThrow(key);
  });
});
