import { describe, expect, it } from 'vitest';
import type { VmSpec } from '../driver.js';
import { BULK_PORT_NAME, buildQemuArgs, hostfwdRule, optValue, RAM_ID, SANDBOX_ARG } from './args.js';

const base: VmSpec = {
  id: 'vm1',
  name: 'dev',
  vcpu: 2,
  memoryMib: 1024,
  kernelPath: '/k/vmlinux',
  initrdPath: '/k/initrd.img',
  cmdline: 'console=ttyS0 quiet root=/dev/vda banger.hostname=dev',
  diskPath: '/s/vms/vm1/disk.qcow2',
  diskFormat: 'qcow2',
  serialLogPath: '/s/vms/vm1/serial.log',
  logPath: '/s/vms/vm1/hypervisor.log',
  runtimeDir: '/r/vms/vm1',
  accel: 'tcg',
  network: { mode: 'user', sshHostPort: 22022, egress: false, forwards: [] },
};

/** The value following `flag`, for every occurrence. */
function values(argv: string[], flag: string): string[] {
  return argv.flatMap((a, i) => (a === flag ? [argv[i + 1]] : []));
}

const qmp = '/r/vms/vm1/qmp.sock';

describe('buildQemuArgs', () => {
  it('matches the prototype command for microvm + TCG + user networking without egress', () => {
    expect(buildQemuArgs(base, { machine: 'microvm', qmpSocket: qmp })).toEqual([
      '-name', 'guest=dev',
      '-M', 'microvm,rtc=on,acpi=on',
      '-accel', 'tcg,thread=multi', '-cpu', 'max',
      '-m', '1024M', '-smp', '2',
      '-nodefaults', '-no-user-config', '-display', 'none',
      '-kernel', '/k/vmlinux', '-initrd', '/k/initrd.img',
      '-append', 'console=ttyS0 quiet root=/dev/vda banger.hostname=dev',
      '-chardev', 'file,id=serial0,path=/s/vms/vm1/serial.log', '-serial', 'chardev:serial0',
      '-drive', 'id=disk0,file=/s/vms/vm1/disk.qcow2,format=qcow2,if=none', '-device', 'virtio-blk-device,drive=disk0',
      '-netdev', 'user,id=net0,hostfwd=tcp:127.0.0.1:22022-:22,restrict=on', '-device', 'virtio-net-device,netdev=net0',
      '-chardev', 'socket,id=qmp0,path=/r/vms/vm1/qmp.sock,server=on,wait=off', '-mon', 'chardev=qmp0,mode=control',
    ]); // prettier-ignore
  });

  it.each([
    ['microvm tcg', 'microvm', 'tcg', 'microvm,rtc=on,acpi=on', 'tcg,thread=multi', 'max', 'virtio-blk-device,drive=disk0'],
    ['microvm kvm', 'microvm', 'kvm', 'microvm,rtc=on,acpi=on', 'kvm', 'host', 'virtio-blk-device,drive=disk0'],
    ['q35 tcg', 'q35', 'tcg', 'q35', 'tcg,thread=multi', 'max', 'virtio-blk-pci,drive=disk0'],
    ['q35 kvm', 'q35', 'kvm', 'q35', 'kvm', 'host', 'virtio-blk-pci,drive=disk0'],
  ] as const)('%s', (_l, machine, accel, m, accelArg, cpu, blk) => {
    const argv = buildQemuArgs({ ...base, accel }, { machine, qmpSocket: qmp });
    expect(values(argv, '-M')).toEqual([m]);
    expect(values(argv, '-accel')).toEqual([accelArg]);
    expect(values(argv, '-cpu')).toEqual([cpu]);
    expect(values(argv, '-device')[0]).toBe(blk);
    expect(argv.join(' ')).not.toMatch(/pit=off|rtc=off|-daemonize/);
  });

  it.each([
    ['egress on, no forwards', { egress: true, forwards: [] }, 'user,id=net0,hostfwd=tcp:127.0.0.1:22022-:22'],
    [
      'extra forwards, egress off',
      { egress: false, forwards: [{ hostPort: 8080, guestPort: 80 }, { hostPort: 5433, guestPort: 5432 }] },
      'user,id=net0,hostfwd=tcp:127.0.0.1:22022-:22,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=tcp:127.0.0.1:5433-:5432,restrict=on',
    ],
  ] as const)('user netdev: %s', (_l, net, expected) => {
    const argv = buildQemuArgs({ ...base, network: { mode: 'user', sshHostPort: 22022, ...net, forwards: [...net.forwards] } }, { machine: 'microvm', qmpSocket: qmp });
    expect(values(argv, '-netdev')).toEqual([expected]);
  });

  it.each([
    ['microvm', 'microvm', 'virtio-net-device,netdev=net0,mac=52:54:00:ab:cd:ef'],
    ['q35', 'q35', 'virtio-net-pci,netdev=net0,mac=52:54:00:ab:cd:ef'],
  ] as const)('bridge mode on %s uses a tap without scripts and the MAC', (_l, machine, device) => {
    const argv = buildQemuArgs({ ...base, network: { mode: 'bridge', tap: 'bgtap0', mac: '52:54:00:AB:CD:EF' } }, { machine, qmpSocket: qmp });
    expect(values(argv, '-netdev')).toEqual(['tap,id=net0,ifname=bgtap0,script=no,downscript=no']);
    expect(values(argv, '-device')).toContain(device);
  });

  it.each([
    ['microvm', 'microvm', 'virtio-net-device,netdev=net0'],
    ['q35', 'q35', 'virtio-net-pci,netdev=net0'],
  ] as const)('user mode through passt on %s: a stream netdev on the inherited socket, no hostfwd', (_l, machine, device) => {
    const net = { mode: 'user' as const, sshHostPort: 22022, egress: true, forwards: [{ hostPort: 8080, guestPort: 80 }] };
    const argv = buildQemuArgs({ ...base, network: net }, { machine, qmpSocket: qmp, passtFd: 3 });
    // Plus an unattached restricted slirp, so states saved under slirp load here and back.
    expect(values(argv, '-netdev')).toEqual(['stream,id=net0,server=off,addr.type=fd,addr.str=3', 'user,id=slirpcompat,restrict=on']);
    expect(values(argv, '-device')).toContain(device);
    expect(argv.join(' ')).not.toMatch(/hostfwd/); // the compat slirp opens no host port
  });

  it.each([
    ['slirp', undefined, 'virtio-net-device,netdev=net0,mac=52:54:00:bf:45:df'],
    ['passt', 3, 'virtio-net-device,netdev=net0,mac=52:54:00:bf:45:df'],
  ] as const)('a user-mode NIC given a MAC (a restore: the one its guest had) gets it, through %s', (_l, passtFd, device) => {
    const net = { mode: 'user' as const, sshHostPort: 22022, egress: true, forwards: [], mac: '52:54:00:BF:45:DF' };
    expect(values(buildQemuArgs({ ...base, network: net }, { machine: 'microvm', qmpSocket: qmp, passtFd }), '-device')).toContain(device);
    expect(() => buildQemuArgs({ ...base, network: { ...net, mac: '52:54:00:bf:45,x=y' } }, { machine: 'microvm', qmpSocket: qmp })).toThrow(/MAC address/);
  });

  it('refuses a passt descriptor that cannot be inherited', () => {
    expect(() => buildQemuArgs(base, { machine: 'microvm', qmpSocket: qmp, passtFd: 1 })).toThrow(/inherited fd/);
  });

  it.each([
    ['on', true, [SANDBOX_ARG]],
    ['off', false, []],
    ['unset', undefined, []],
  ] as const)('-sandbox %s', (_l, sandbox, expected) => {
    const argv = buildQemuArgs(base, { machine: 'microvm', qmpSocket: qmp, sandbox });
    expect(values(argv, '-sandbox')).toEqual(expected);
  });

  it('the seccomp filter denies privilege and resource changes but keeps spawn (exec: migration)', () => {
    expect(SANDBOX_ARG.split(',')).toEqual(['on', 'obsolete=deny', 'elevateprivileges=deny', 'resourcecontrol=deny']);
  });

  it('restore adds -incoming defer, boot does not', () => {
    expect(values(buildQemuArgs({ ...base, restoreFrom: '/s/snap' }, { machine: 'microvm', qmpSocket: qmp }), '-incoming')).toEqual(['defer']);
    expect(buildQemuArgs(base, { machine: 'microvm', qmpSocket: qmp })).not.toContain('-incoming');
  });

  // Shared memory for forks: same shape under KVM and TCG, on both machines; the backend takes the
  // machine's own RAM id so states move between anonymous and file-backed RAM.
  it.each([
    ['microvm', 'tcg', 'microvm,rtc=on,acpi=on,memory-backend=microvm.ram', 'microvm.ram'],
    ['microvm', 'kvm', 'microvm,rtc=on,acpi=on,memory-backend=microvm.ram', 'microvm.ram'],
    ['q35', 'tcg', 'q35,memory-backend=pc.ram', 'pc.ram'],
    ['q35', 'kvm', 'q35,memory-backend=pc.ram', 'pc.ram'],
  ] as const)('%s %s: a restore from a memory file maps it privately; the template keeps a shared memfd', (machine, accel, m, ramId) => {
    expect(RAM_ID[machine]).toBe(ramId);
    const restore = buildQemuArgs({ ...base, accel, restoreFrom: '/s/snap/state.bin', restoreMemoryFrom: '/s/sn,ap/memory.bin' }, { machine, qmpSocket: qmp });
    expect(values(restore, '-M')).toEqual([m]);
    expect(values(restore, '-object')).toEqual([`memory-backend-file,id=${ramId},size=1024M,mem-path=/s/sn,,ap/memory.bin,share=off`]);
    expect(values(restore, '-m')).toEqual(['1024M']);
    expect(values(restore, '-incoming')).toEqual(['defer']);
    const template = buildQemuArgs({ ...base, accel, shareableMemory: true }, { machine, qmpSocket: qmp });
    expect(values(template, '-M')).toEqual([m]);
    expect(values(template, '-object')).toEqual([`memory-backend-memfd,id=${ramId},size=1024M,share=on`]);
    expect(template).not.toContain('-incoming');
    // Without either, QEMU makes anonymous RAM itself (cold boots and full-state restores unchanged).
    const plain = buildQemuArgs({ ...base, accel, restoreFrom: '/s/snap/state.bin' }, { machine, qmpSocket: qmp });
    expect(plain).not.toContain('-object');
    expect(values(plain, '-M')[0]).not.toMatch(/memory-backend/);
  });

  it('refuses a memory file without its device state, and a memory file with shareable memory', () => {
    expect(() => buildQemuArgs({ ...base, restoreMemoryFrom: '/s/m' }, { machine: 'microvm', qmpSocket: qmp })).toThrow(/restoreFrom/);
    expect(() => buildQemuArgs({ ...base, restoreFrom: '/s/s', restoreMemoryFrom: '/s/m', shareableMemory: true }, { machine: 'microvm', qmpSocket: qmp })).toThrow(/privately/);
  });

  it('a converter receives a migration only: no serial file, no forwards, restricted slirp, shared memfd', () => {
    const argv = buildQemuArgs(
      { ...base, shareableMemory: true, network: { mode: 'user', sshHostPort: 2222, egress: true, forwards: [{ hostPort: 8080, guestPort: 80 }] } },
      { machine: 'microvm', qmpSocket: qmp, converter: true, passtFd: 3 },
    );
    expect(values(argv, '-chardev')[0]).toBe('null,id=serial0');
    expect(values(argv, '-netdev')).toEqual(['user,id=net0,restrict=on']);
    expect(values(argv, '-incoming')).toEqual(['defer']);
    expect(values(argv, '-object')).toEqual(['memory-backend-memfd,id=microvm.ram,size=1024M,share=on']);
    expect(argv.join(' ')).not.toMatch(/hostfwd|serial\.log/);
  });

  it('escapes commas in paths and names', () => {
    const argv = buildQemuArgs(
      { ...base, name: 'a,b', diskPath: '/d,x/disk.qcow2', serialLogPath: '/d,x/serial.log' },
      { machine: 'microvm', qmpSocket: '/r,x/qmp.sock' },
    );
    expect(values(argv, '-name')).toEqual(['guest=a,,b']);
    expect(values(argv, '-drive')).toEqual(['id=disk0,file=/d,,x/disk.qcow2,format=qcow2,if=none']);
    expect(values(argv, '-chardev')).toEqual(['file,id=serial0,path=/d,,x/serial.log', 'socket,id=qmp0,path=/r,,x/qmp.sock,server=on,wait=off']);
  });

  it('passes a raw disk format through', () => {
    expect(values(buildQemuArgs({ ...base, diskFormat: 'raw' }, { machine: 'microvm', qmpSocket: qmp }), '-drive')[0]).toMatch(/format=raw,/);
  });

  it.each([
    ['bad port', { ...base, network: { mode: 'user', sshHostPort: 70000, egress: false, forwards: [] } }, /70000 is not a port/],
    ['bad MAC', { ...base, network: { mode: 'bridge', tap: 't0', mac: 'zz' } }, /MAC address "zz"/],
    ['bad tap', { ...base, network: { mode: 'bridge', tap: 'a,b', mac: '52:54:00:00:00:01' } }, /tap device name/],
    ['zero vcpu', { ...base, vcpu: 0 }, /vcpu/],
    ['tiny memory', { ...base, memoryMib: 8 }, /memory/],
  ] as const)('rejects %s', (_l, spec, message) => {
    expect(() => buildQemuArgs(spec as VmSpec, { machine: 'microvm', qmpSocket: qmp })).toThrow(message);
  });
});

describe('helpers', () => {
  it('optValue doubles commas only', () => {
    expect(optValue('a,b,,c=d')).toBe('a,,b,,,,c=d');
  });
  it('hostfwdRule binds to loopback', () => {
    expect(hostfwdRule(2222, 22)).toBe('tcp:127.0.0.1:2222-:22');
    expect(() => hostfwdRule(0, 22)).toThrow(/host port 0/);
  });
});

describe('the bulk channel (virtio-serial port)', () => {
  it.each([
    ['microvm', 'virtio-serial-device,id=bulkser0'],
    ['q35', 'virtio-serial-pci,id=bulkser0'],
  ] as const)('%s: a controller, a private socket chardev and the named port, after every other device', (machine, controller) => {
    const argv = buildQemuArgs(base, { machine, qmpSocket: qmp, bulkSocket: '/r/vms/vm1/bulk,x.sock', sandbox: true });
    const i = argv.indexOf(controller);
    expect(i).toBeGreaterThan(0);
    expect(argv.slice(i - 1, i + 5)).toEqual([
      '-device', controller,
      '-chardev', 'socket,id=bulk0,path=/r/vms/vm1/bulk,,x.sock,server=on,wait=off',
      '-device', `virtserialport,bus=bulkser0.0,chardev=bulk0,name=${BULK_PORT_NAME}`,
    ]); // prettier-ignore
    // Last device: the disk and NIC keep their transports whether or not the port is there.
    expect(argv.lastIndexOf('-device')).toBe(i + 3);
    expect(BULK_PORT_NAME).toBe('banger.bulk');
  });

  it('no socket, no port (restores of VMs saved without it)', () => {
    expect(buildQemuArgs(base, { machine: 'microvm', qmpSocket: qmp }).join(' ')).not.toMatch(/virtio-serial|virtserialport|bulk/);
  });
});
