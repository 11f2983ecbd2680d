import { describe, expect, it } from 'vitest';
import { aliasFor, vmNameOf } from '../guest/knownhosts.js';
import { ZONE } from '../network/dns.js';
import { renderSshConfig } from '../network/sshconfig.js';
import { VM_DOMAIN, vmHostName } from './names.js';

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
