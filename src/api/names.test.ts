import { describe, expect, it } from 'vitest';
import { aliasFor, vmNameOf } from '../guest/knownhosts.js';
import { ZONE } from '../network/dns.js';
import { renderSshConfig } from '../network/sshconfig.js';
import { VmCreateParams, VmSetParams } from './vm.js';
import { ImageImportParams } from './image.js';
import { checkSizeFlag, MAX_SIZE_BYTES, parseSize, sizeProblem, VM_DOMAIN, vmHostName } from './names.js';

describe('NAME.vm, built in one place', () => {
  it('is the name, a dot and the domain banger answers', () => {
    expect(vmHostName('web-1')).toBe('web-1.vm');
    expect(ZONE).toBe(VM_DOMAIN);
  });
  it('known_hosts aliases, ssh_config hosts and the DNS zone agree', () => {
    expect(aliasFor('web-1')).toBe(vmHostName('web-1'));
    expect(vmNameOf(vmHostName('web-1'))).toBe('web-1');
    const text = renderSshConfig([{ name: 'web-1', hostName: '127.0.0.1', port: 2222 }], { keyPath: '/k', knownHostsPath: '/kh' });
    expect(text).toContain(`Host ${vmHostName('web-1')}\n`);
    expect(text).toContain(`HostKeyAlias ${vmHostName('web-1')}\n`);
    expect(text).toContain(`Host *.${VM_DOMAIN}\n`);
  });
});

describe('sizes are bounded safe integers', () => {
  it.each([
    ['512M', 512 * 1024 ** 2],
    ['4G', 4 * 1024 ** 3],
    ['8GiB', 8 * 1024 ** 3],
    ['16T', MAX_SIZE_BYTES],
    ['1048576', 1024 ** 2],
  ])('%s is %i bytes and allowed', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
    expect(sizeProblem(text)).toBeNull();
  });

  it.each([`1${'0'.repeat(400)}`, '99999999999T', '17T', '8000T', '0', '1K', 'lots', '-1G', '4 G B'])('%s is refused naming the range', (text) => {
    expect(sizeProblem(text)).toMatch(/from 1M to 16T/);
    expect(() => checkSizeFlag('--disk-size', text)).toThrow(/--disk-size .* from 1M to 16T/);
  });

  it('vm.create, vm.set and image.import schemas refuse out-of-range sizes and memory', () => {
    const c = VmCreateParams.safeParse({ diskSize: `1${'0'.repeat(400)}` });
    expect(c.success).toBe(false);
    expect(c.error?.issues[0].message).toMatch(/from 1M to 16T/);
    expect(VmCreateParams.safeParse({ diskSize: '17T' }).success).toBe(false);
    expect(VmSetParams.safeParse({ name: 'a', diskSize: '99999999999T' }).success).toBe(false);
    const m = VmSetParams.safeParse({ name: 'a', memoryMib: 4_000_000 });
    expect(m.success).toBe(false);
    expect(m.error?.issues[0].message).toMatch(/128 to 1048576 MiB/);
    expect(VmSetParams.safeParse({ name: 'a', memoryMib: 4096 }).success).toBe(true);
    expect(ImageImportParams.safeParse({ name: 'a', rootfsTar: '/x', size: '8M' }).error?.issues[0].message).toMatch(/from 16M to 16T/);
  });
});
