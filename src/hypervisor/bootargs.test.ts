import { describe, expect, it } from 'vitest';
import { USER_NET, buildBootArgs } from './bootargs.js';

describe('buildBootArgs', () => {
  it('carries host name, key and network for the initramfs', () => {
    const s = buildBootArgs({ hostname: 'web-1', sshKeyBlob: 'AAAAC3Nz+/=', net: USER_NET, accel: 'tcg' });
    expect(s.split(' ')).toEqual(
      expect.arrayContaining(['banger.hostname=web-1', 'banger.key=AAAAC3Nz+/=', 'banger.ip=10.0.2.15/24', 'banger.gw=10.0.2.2', 'banger.dns=10.0.2.3', 'tsc=reliable']),
    );
  });
  it('leaves out the TSC workaround under KVM and the network when none is given', () => {
    const s = buildBootArgs({ hostname: 'a', sshKeyBlob: 'K', net: null, accel: 'kvm' });
    expect(s).not.toContain('tsc');
    expect(s).not.toContain('banger.ip');
  });
  it.each(['a b', 'x;reboot', 'k\n', '$(id)'])('refuses %j, which would break the command line', (bad) => {
    expect(() => buildBootArgs({ hostname: bad, sshKeyBlob: 'K', net: null, accel: 'kvm' })).toThrow(/cannot carry/);
  });
});
