import { describe, expect, it } from 'vitest';
import { BangerError } from '../../api/errors.js';
import { buildElf64, fakeModule } from '../../../test/elf.fixture.js';
import { parseModinfo, parseModinfoStrings } from './modinfo.js';

describe('parseModinfoStrings', () => {
  it.each([
    ['depends=virtio,virtio_ring\0name=virtio_blk\0', 'virtio_blk', ['virtio', 'virtio_ring']],
    ['depends=\0name=virtio_ring\0', 'virtio_ring', []],
    ['\0\0license=GPL\0name=virtio_rng\0depends=virtio\0\0\0', 'virtio_rng', ['virtio']],
    ['alias=virtio:d00000001v*\0', undefined, []],
  ])('%j -> name %s depends %j', (text, name, depends) => {
    const info = parseModinfoStrings(Buffer.from(text, 'utf8'));
    expect(info.name).toBe(name);
    expect(info.depends).toEqual(depends);
  });

  it('keeps every value of repeated keys', () => {
    const info = parseModinfoStrings(Buffer.from('alias=a\0alias=b\0vermagic=6.1.0 SMP mod_unload\0', 'utf8'));
    expect(info.fields.alias).toEqual(['a', 'b']);
    expect(info.fields.vermagic).toEqual(['6.1.0 SMP mod_unload']);
  });
});

describe('parseModinfo', () => {
  it('reads name and depends from the .modinfo section of a module', () => {
    const ko = fakeModule(['license=GPL', 'depends=virtio_ring,virtio,net_failover', 'name=virtio_net', 'vermagic=6.1.0-56-cloud-amd64 SMP']);
    const info = parseModinfo(ko);
    expect(info.name).toBe('virtio_net');
    expect(info.depends).toEqual(['virtio_ring', 'virtio', 'net_failover']);
  });

  it('rejects a file that is not ELF', () => {
    expect(() => parseModinfo(Buffer.from('depends=virtio\0name=x\0'))).toThrow(/no ELF magic/);
  });

  it('rejects an ELF executable (not a module)', () => {
    const exe = buildElf64({ type: 2, machine: 62, sections: [{ name: '.modinfo', data: Buffer.from('name=x\0') }] });
    expect(() => parseModinfo(exe, 'x.ko')).toThrow(/not a kernel module/);
  });

  it('rejects a relocatable object without .modinfo', () => {
    const obj = buildElf64({ type: 1, machine: 62, sections: [{ name: '.text', data: Buffer.from([0xc3]) }] });
    try {
      parseModinfo(obj, 'plain.o');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(BangerError);
      expect((err as BangerError).message).toMatch(/plain\.o has no \.modinfo section/);
    }
  });
});
