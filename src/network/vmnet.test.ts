import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/config.js';
import { silentLogger } from '../host/logger.js';
import type { VmRecord } from '../store/vms.js';
import { createVmNetworking } from './vmnet.js';

const config = parseConfig('', 'config.toml', { cores: 2, memoryMib: 2048, home: '/root', jailerChrootBase: '/tmp/jailer' });
const net = createVmNetworking({ config, log: silentLogger, cannotBridge: () => null });
const rec = (network: VmRecord['network']): VmRecord =>
  ({ id: 'aaaaaaaaaaaa', name: 'x', image: 'i', kernel: 'k', vcpu: 1, memoryMib: 512, diskSizeBytes: 1, network, state: 'stopped', workspace: null, createdAt: '', updatedAt: '' }) as VmRecord;

describe('host access (--host-access)', () => {
  it('is stored on a user-mode VM only when asked, and reaches the driver spec', async () => {
    const on = net.assign({ id: 'a', mode: 'user', egress: true, nat: false, hostAccess: true }, []);
    expect(on).toEqual({ mode: 'user', egress: true, nat: false, hostAccess: true });
    expect(net.assign({ id: 'a', mode: 'user', egress: true, nat: false }, [])).toEqual({ mode: 'user', egress: true, nat: false });
    expect((await net.prepare(rec(on), () => {})).spec).toMatchObject({ mode: 'user', hostAccess: true });
    expect((await net.prepare(rec({ mode: 'user', egress: true, nat: false }), () => {})).spec).toMatchObject({ mode: 'user', hostAccess: false });
  });
  it.each([
    ['with --no-egress', { mode: 'user', egress: false }, /contradict/],
    ['in bridge mode', { mode: 'bridge', egress: true }, /applies to user-mode networking/],
  ] as const)('is refused %s', (_l, p, message) => {
    expect(() => net.assign({ id: 'a', nat: false, hostAccess: true, ...p }, [])).toThrow(message);
  });
});
