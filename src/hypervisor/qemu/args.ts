/**
 * Turns a VmSpec into QEMU's argument vector. Pure: no I/O, table-tested.
 *
 * Choices (measured on TCG, see DESIGN.md):
 * - microvm for both accelerators (boots to SSH in ~8 s under TCG; q35 was slightly slower). q35 stays
 *   as an option for hosts where microvm misbehaves; it uses the PCI flavours of the virtio devices.
 * - microvm keeps its RTC and PIT: `rtc=off` costs ~2 s of boot, `pit=off` hangs TCG guests.
 * - Serial and QMP go through `-chardev` so every path can be escaped (QEMU splits options on commas).
 * - No `-daemonize` or `-pidfile`: the driver spawns QEMU detached itself and keeps the real pid.
 */
import { BangerError } from '../../api/errors.js';
import { MAC_ADDRESS } from '../../api/names.js';
import type { VmSpec } from '../driver.js';

export type QemuMachine = 'microvm' | 'q35';

export interface QemuArgsOptions {
  machine: QemuMachine;
  qmpSocket: string;
  /** User mode through passt (qemu/usernet.ts): QEMU's fd of the socket pair shared with passt; absent → QEMU's slirp. */
  passtFd?: number;
  /** Add QEMU's seccomp filter (`-sandbox`); only where the build has it (driver probes once). */
  sandbox?: boolean;
  /**
   * A converter (qemu/convert.ts): a copy of the VM's devices that only receives a migration and
   * saves it again, never runs the guest: no serial file, no forwarded ports, no egress.
   */
  converter?: boolean;
  /** The bulk channel's host socket (qemu/bulkargs below); absent: no bulk port. */
  bulkSocket?: string;
}

/**
 * QEMU's seccomp filter: no obsolete syscalls, no setuid/setgid, no scheduler or resource changes.
 * `spawn` stays allowed: snapshots save and load through `exec:` migration (qemu/migration.ts).
 */
export const SANDBOX_ARG = 'on,obsolete=deny,elevateprivileges=deny,resourcecontrol=deny';

/** QEMU's netdev id for the VM's NIC; hostfwd_add/remove name it. */
export const NETDEV_ID = 'net0';
/**
 * An unattached, restricted slirp netdev next to passt's: slirp writes a `slirp` section into saved
 * states, and QEMU refuses to load a state with a section it has no owner for. With it, states move
 * both ways between slirp and passt VMs (warm snapshots are saved from a slirp template).
 */
export const SLIRP_COMPAT_ID = 'slirpcompat';
/** QEMU's drive id for the VM's disk; blockdev-snapshot-sync names it. */
export const DISK_ID = 'disk0';
/** The guest sees the bulk channel as `/dev/virtio-ports/<this>` (guest/bulkscript.ts looks for it). */
export const BULK_PORT_NAME = 'banger.bulk';

/**
 * The bulk byte channel: a virtio-serial controller with one port named BULK_PORT_NAME, whose host
 * end is a unix socket QEMU listens on (`wait=off`: QEMU does not wait for it; the daemon connects
 * per transfer). Last on the command line: the devices before it keep their transports, and a
 * restore passes the same list as the saved VM had.
 */
function bulkArgs(machine: QemuMachine, socket: string | undefined): string[] {
  if (socket === undefined) return [];
  return [
    '-device',
    machine === 'q35' ? 'virtio-serial-pci,id=bulkser0' : 'virtio-serial-device,id=bulkser0',
    '-chardev',
    `socket,id=bulk0,path=${optValue(socket)},server=on,wait=off`,
    '-device',
    `virtserialport,bus=bulkser0.0,chardev=bulk0,name=${BULK_PORT_NAME}`,
  ];
}

/** Escapes a value inside a QEMU `key=value,...` option string (a comma is written twice). */
export function optValue(value: string): string {
  return value.replaceAll(',', ',,');
}

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

function checkPort(port: number, what: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new BangerError('bad_request', `${what} ${port} is not a port number (1-65535)`);
  return port;
}

/** `tcp:127.0.0.1:HOST-:GUEST`: the hostfwd rule syntax shared by -netdev and hostfwd_add. */
export function hostfwdRule(hostPort: number, guestPort: number): string {
  return `tcp:127.0.0.1:${checkPort(hostPort, 'host port')}-:${checkPort(guestPort, 'guest port')}`;
}

/**
 * The id QEMU gives a machine's RAM when it makes the RAM itself (its default_ram_id). A memory
 * backend with this id makes the same RAM block, so saved states move between VMs with anonymous
 * and file-backed RAM (a state names its RAM blocks; another name is refused).
 */
export const RAM_ID: Record<QemuMachine, string> = { microvm: 'microvm.ram', q35: 'pc.ram' };

/**
 * Where the guest RAM lives (the density story, DESIGN.md): by default anonymous memory. A restore
 * of a device-only state maps the snapshot's RAM file privately (share=off: copy-on-write, the file
 * is never written, unchanged pages are one page-cache copy for every VM restored from it). The warm
 * template and a converter keep RAM in a shared memfd, which saveState copies out as that file.
 */
function memoryBackend(spec: VmSpec, machine: QemuMachine): string[] {
  if (spec.restoreMemoryFrom !== undefined && spec.shareableMemory) {
    throw new BangerError('bad_request', 'a VM restored from a memory file maps it privately; it cannot also keep shareable memory');
  }
  const common = `id=${RAM_ID[machine]},size=${spec.memoryMib}M`;
  if (spec.restoreMemoryFrom !== undefined) {
    if (!spec.restoreFrom) throw new BangerError('bad_request', 'a memory file is restored together with its device state (restoreFrom)');
    return ['-object', `memory-backend-file,${common},mem-path=${optValue(spec.restoreMemoryFrom)},share=off`];
  }
  if (spec.shareableMemory) return ['-object', `memory-backend-memfd,${common},share=on`];
  return [];
}

function machineArgs(machine: QemuMachine, ownRam: boolean): string[] {
  const ram = ownRam ? `,memory-backend=${RAM_ID[machine]}` : '';
  return machine === 'microvm' ? ['-M', `microvm,rtc=on,acpi=on${ram}`] : ['-M', `q35${ram}`];
}

function accelArgs(accel: VmSpec['accel']): string[] {
  // TCG: multi-threaded TCG uses one host thread per vCPU; `max` gives the guest every emulated feature.
  return accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max'];
}

/** `,mac=...` for the NIC when one is given (checked: it goes into QEMU's option string). */
function macOpt(mac: string | undefined): string {
  if (mac === undefined) return '';
  const m = mac.toLowerCase();
  if (!MAC_ADDRESS.test(m)) throw new BangerError('bad_request', `MAC address "${mac}" is not of the form 52:54:00:12:34:56`);
  return `,mac=${m}`;
}

function netArgs(spec: VmSpec, deviceModel: string, passtFd?: number, converter?: boolean): string[] {
  const net = spec.network;
  const nic = `${deviceModel},netdev=${NETDEV_ID}${macOpt(net.mac)}`;
  // One restricted slirp netdev: it takes a saved `slirp` section (slirp and passt VMs both write one).
  if (converter) return ['-netdev', `user,id=${NETDEV_ID},restrict=on`, '-device', nic];
  if (net.mode === 'user' && passtFd !== undefined) {
    // passt does the forwarding (its own -t rules); QEMU's NIC talks to it over an inherited socket.
    if (!Number.isInteger(passtFd) || passtFd < 3) throw new BangerError('bad_request', `passt's descriptor must be an inherited fd (3 or more), got ${passtFd}`);
    return [
      '-netdev',
      `stream,id=${NETDEV_ID},server=off,addr.type=fd,addr.str=${passtFd}`,
      '-device',
      nic,
      '-netdev',
      `user,id=${SLIRP_COMPAT_ID},restrict=on`,
    ];
  }
  if (net.mode === 'user') {
    const rules = [hostfwdRule(net.sshHostPort, 22), ...net.forwards.map((f) => hostfwdRule(f.hostPort, f.guestPort))];
    const opts = [`user`, `id=${NETDEV_ID}`, ...rules.map((r) => `hostfwd=${r}`)];
    // restrict=on cuts the guest off from the host and the outside; forwarded ports keep working.
    if (!net.egress) opts.push('restrict=on');
    return ['-netdev', opts.join(','), '-device', nic];
  }
  if (!IFNAME.test(net.tap)) throw new BangerError('bad_request', `tap device name "${net.tap}" is not a valid interface name`);
  return ['-netdev', `tap,id=${NETDEV_ID},ifname=${net.tap},script=no,downscript=no`, '-device', nic];
}

/** QEMU's arguments (without the binary) for one VM. */
export function buildQemuArgs(spec: VmSpec, opts: QemuArgsOptions): string[] {
  if (!Number.isInteger(spec.vcpu) || spec.vcpu < 1) throw new BangerError('bad_request', `vcpu must be a positive integer, got ${spec.vcpu}`);
  if (!Number.isInteger(spec.memoryMib) || spec.memoryMib < 64) throw new BangerError('bad_request', `memory must be at least 64 MiB, got ${spec.memoryMib}`);
  const pci = opts.machine === 'q35';
  const blk = pci ? 'virtio-blk-pci' : 'virtio-blk-device';
  const nic = pci ? 'virtio-net-pci' : 'virtio-net-device';
  const memory = memoryBackend(spec, opts.machine);
  return [
    '-name',
    `guest=${optValue(spec.name)}`,
    ...machineArgs(opts.machine, memory.length > 0),
    ...accelArgs(spec.accel),
    '-m',
    `${spec.memoryMib}M`,
    '-smp',
    String(spec.vcpu),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-kernel',
    spec.kernelPath,
    '-initrd',
    spec.initrdPath,
    '-append',
    spec.cmdline,
    '-chardev',
    opts.converter ? 'null,id=serial0' : `file,id=serial0,path=${optValue(spec.serialLogPath)}`,
    '-serial',
    'chardev:serial0',
    '-drive',
    `id=${DISK_ID},file=${optValue(spec.diskPath)},format=${spec.diskFormat},if=none`,
    '-device',
    `${blk},drive=${DISK_ID}`,
    ...netArgs(spec, nic, opts.passtFd, opts.converter),
    '-chardev',
    `socket,id=qmp0,path=${optValue(opts.qmpSocket)},server=on,wait=off`,
    '-mon',
    'chardev=qmp0,mode=control',
    ...bulkArgs(opts.machine, opts.bulkSocket),
    ...(opts.sandbox ? ['-sandbox', SANDBOX_ARG] : []),
    ...memory,
    ...(spec.restoreFrom || opts.converter ? ['-incoming', 'defer'] : []),
  ];
}
