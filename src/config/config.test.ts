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
    expect(c.vmDefaults.memoryMib).toBe(3072);
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
