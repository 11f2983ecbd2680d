import { describe, expect, it } from 'vitest';
import type { VmSpec } from '../driver.js';
import { jailLayout, jailerArgv } from './jailer.js';

const base = {
  jailerBin: '/usr/bin/jailer',
  firecrackerBin: '/usr/bin/firecracker',
  id: 'vm-0123',
  uid: 123,
  gid: 100,
  chrootBaseDir: '/srv/jailer',
  firecrackerArgs: ['--api-sock', '/run/firecracker.socket'],
};

describe('jailerArgv', () => {
  it('builds the documented argv, firecracker args after --', () => {
    expect(jailerArgv(base)).toEqual([
      '/usr/bin/jailer', '--id', 'vm-0123', '--exec-file', '/usr/bin/firecracker', '--uid', '123', '--gid', '100',
      '--chroot-base-dir', '/srv/jailer', '--', '--api-sock', '/run/firecracker.socket',
    ]);
  });

  it('joins a named network namespace by its /var/run/netns handle', () => {
    const argv = jailerArgv({ ...base, netns: 'banger-ns' });
    expect(argv.slice(argv.indexOf('--netns'), argv.indexOf('--netns') + 2)).toEqual(['--netns', '/var/run/netns/banger-ns']);
    expect(argv.indexOf('--netns')).toBeLessThan(argv.indexOf('--'));
  });

  it.each([
    [{ id: 'has space' }, /jailer id "has space"/],
    [{ id: 'a'.repeat(65) }, /1-64 letters/],
    [{ id: 'dots.not.allowed' }, /1-64 letters/],
    [{ firecrackerBin: '/opt/fc' }, /file name contains "firecracker"/],
    [{ uid: -1 }, /uid must be a non-negative integer/],
    [{ gid: 1.5 }, /gid must be a non-negative integer/],
  ])('rejects %j', (override, message) => {
    expect(() => jailerArgv({ ...base, ...override })).toThrow(message);
  });
});

const spec: VmSpec = {
  id: 'vm-0123',
  name: 'demo',
  vcpu: 2,
  memoryMib: 512,
  kernelPath: '/state/kernels/k/vmlinux',
  initrdPath: '/state/kernels/k/initrd.img',
  cmdline: 'console=ttyS0',
  diskPath: '/state/vms/vm-0123/disk.raw',
  diskFormat: 'raw',
  serialLogPath: '/state/vms/vm-0123/serial.log',
  logPath: '/state/vms/vm-0123/hypervisor.log',
  runtimeDir: '/run/banger/vms/vm-0123',
  accel: 'kvm',
  network: { mode: 'bridge', tap: 'bg-tap0', mac: '02:00:00:00:00:01' },
};

describe('jailLayout', () => {
  it('puts the jail under <base>/<exec name>/<id>/root and maps every boot file inside it', () => {
    const j = jailLayout(spec, { firecrackerBin: '/usr/bin/firecracker', chrootBaseDir: '/srv/jailer' });
    expect(j.rootDir).toBe('/srv/jailer/firecracker/vm-0123/root');
    expect(j.apiSocketOnHost).toBe('/srv/jailer/firecracker/vm-0123/root/run/firecracker.socket');
    expect([spec.kernelPath, spec.initrdPath, spec.diskPath, spec.logPath, j.vsockOnHost].map(j.mapPath)).toEqual([
      '/vmlinux', '/initrd.img', '/rootfs.raw', '/firecracker.log', '/vsock.sock',
    ]);
    expect(j.files.every((f) => f.direction === 'link')).toBe(true);
    expect(() => j.mapPath('/etc/passwd')).toThrow(/no jail path/);
  });

  it('links the saved state in for a restore, and links snapshot files out when saving', () => {
    const restore = jailLayout({ ...spec, restoreFrom: '/state/vms/vm-0123/state.snap' }, { firecrackerBin: '/usr/bin/firecracker', chrootBaseDir: '/srv/jailer' });
    expect(restore.mapPath('/state/vms/vm-0123/state.snap')).toBe('/snapshot');
    expect(restore.mapPath('/state/vms/vm-0123/state.snap.mem')).toBe('/snapshot.mem');
    expect(() => restore.mapPath(spec.kernelPath)).toThrow();
    const save = jailLayout(spec, { firecrackerBin: '/usr/bin/firecracker', chrootBaseDir: '/srv/jailer', statePath: '/s/x.snap' });
    expect(save.files.filter((f) => f.direction === 'out').map((f) => [f.host, f.jail])).toEqual([
      ['/s/x.snap', '/snapshot'],
      ['/s/x.snap.mem', '/snapshot.mem'],
    ]);
  });
});
