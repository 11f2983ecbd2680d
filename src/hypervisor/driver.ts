/**
 * The hypervisor contract. Drivers are small capability interfaces plus `info()` feature flags;
 * code outside hypervisor/ reads flags and never tests a driver's name.
 */
import type { Accel } from '../api/enums.js';
import type { Logger } from '../host/logger.js';

export type { Accel } from '../api/enums.js';

export interface DriverFeatures {
  /** Can save and restore a running VM's memory and device state. */
  snapshots: boolean;
  /** Needs root (tap devices, /dev/kvm, device-mapper). */
  needsRoot: boolean;
  /** Accelerators this driver can use on this host. */
  accelerators: Accel[];
  /** Supports QEMU-style user-mode networking (ports forwarded to 127.0.0.1). */
  userNetworking: boolean;
  /** Disk formats it boots from. */
  diskFormats: Array<'qcow2' | 'raw'>;
  /** User mode: can guests reach the host's 127.0.0.1 by default (false: blocked), and why. */
  userNetHostAccess?: { blocked: boolean; reason: string };
}

export interface DriverInfo {
  name: string;
  version: string;
  features: DriverFeatures;
}

/** Everything a driver needs to boot one VM. Paths are absolute; the caller made the directories. */
export interface VmSpec {
  id: string;
  name: string;
  vcpu: number;
  memoryMib: number;
  /** Uncompressed ELF vmlinux (PVH entry). */
  kernelPath: string;
  initrdPath: string;
  /** Full kernel command line (built by the caller; see hypervisor/bootargs.ts). */
  cmdline: string;
  /** The VM's own writable disk (qcow2 overlay, or raw for drivers without qcow2). */
  diskPath: string;
  diskFormat: 'qcow2' | 'raw';
  serialLogPath: string;
  /** Hypervisor stderr/stdout. */
  logPath: string;
  /** Where the driver may put its sockets (short path). */
  runtimeDir: string;
  accel: Accel;
  network:
    | {
        mode: 'user';
        sshHostPort: number;
        egress: boolean;
        forwards: Array<{ hostPort: number; guestPort: number }>;
        /** Let the guest reach the host's 127.0.0.1 through its gateway (off: blocked where the driver can). */
        hostAccess?: boolean;
        /** The NIC's address; absent: the hypervisor's default. A restore gives the one its saved guest had (SnapshotManager.nicMac). */
        mac?: string;
        /** Run the hypervisor (and its user-mode network) inside this network namespace (tests). */
        netns?: string;
      }
    | { mode: 'bridge'; tap: string; mac: string; netns?: string };
  /** Restore from this saved state instead of booting (snapshot capability). */
  restoreFrom?: string;
  /**
   * With restoreFrom: the guest RAM as a plain file (written by `saveState` with a memoryPath), which
   * the state at restoreFrom then leaves out. The VM maps it copy-on-write: unchanged pages stay
   * one page-cache copy shared by every VM restored from it, and the file itself is never written.
   */
  restoreMemoryFrom?: string;
  /**
   * Keep the guest RAM where `saveState` can write it out as such a file without a second copy
   * (the warm template). Drivers whose saved memory is always a file ignore it.
   */
  shareableMemory?: boolean;
  /**
   * Attach the bulk byte channel (a virtio-serial port `banger.bulk` on a private unix socket in
   * `runtimeDir`) when the driver has one; the handles then name its socket (`bulkSocket`). A restore
   * must ask for it exactly when the saved VM had it (the device set is part of the saved state).
   */
  bulkChannel?: boolean;
}

/** Live facts about a running VM, as the driver sees them; persisted in handles.json. */
export interface VmHandles {
  pid: number;
  /** Control socket (QMP or Firecracker API). */
  controlSocket: string;
  accel: Accel;
  startedAt: string;
  /** The host end of the bulk byte channel (VmSpec.bulkChannel), when the VM has one. */
  bulkSocket?: string;
  [extra: string]: unknown;
}

export interface Lifecycle {
  /** Boots the VM described by `spec`. Resolves once the hypervisor process runs; it does not wait for the guest. */
  start(spec: VmSpec, log: Logger): Promise<VmHandles>;
  /**
   * Asks the guest to power off (ACPI / Ctrl-Alt-Del) and waits up to `timeoutMs` for the process to exit.
   * Resolves true if it exited, false if it is still running (the caller then calls kill).
   * Graceful shutdown over SSH is the caller's job and comes first.
   */
  requestPowerOff(handles: VmHandles, timeoutMs: number): Promise<boolean>;
  /** Sends a signal to the hypervisor process and waits for it to exit (SIGKILL after timeout). */
  kill(handles: VmHandles, signal?: NodeJS.Signals): Promise<void>;
  /** Is the process described by handles still the one we started? */
  isRunning(handles: VmHandles): boolean;
}

export interface SnapshotManager {
  /**
   * Pauses the VM and writes memory + device state to `statePath`. The VM stays paused.
   * With `memoryPath`, when the driver can, the guest RAM goes to `memoryPath` as a plain file
   * (restores map it copy-on-write: VmSpec.restoreMemoryFrom) and `statePath` holds device state
   * only. Resolves true when it did, false when `statePath` holds everything.
   */
  saveState(handles: VmHandles, statePath: string, memoryPath?: string): Promise<boolean>;
  pause(handles: VmHandles): Promise<void>;
  resume(handles: VmHandles): Promise<void>;
  /**
   * Optional: the MAC address the guest's NIC answers to now (the guest may have set its own: the
   * identity step does). A snapshot records it and its restores give it to the NIC (VmSpec network
   * `mac`), because a restored NIC announces its configured address: a user-mode network learns the
   * guest's address from that frame, and a wrong one sends the first connections where the guest drops them.
   */
  nicMac?(handles: VmHandles): Promise<string | null>;
  /**
   * Optional: with the VM paused (also after saveState), makes the disk it writes `overlayPath`, an
   * existing qcow2 overlay whose backing is the VM's current disk; that disk is only read from then
   * on (it becomes a snapshot's frozen layer). The caller may rename the current disk file first: the
   * hypervisor keeps it open. Absent when the driver cannot change a running VM's disk.
   */
  switchDisk?(handles: VmHandles, overlayPath: string): Promise<void>;
  /**
   * Optional, at daemon start for every VM found running: undoes what a save cut short by a daemon
   * crash left (a helper process and its files, the VM paused) so the VM runs on. Resolves with what
   * it did, empty when there was nothing to do.
   */
  recover?(handles: VmHandles): Promise<string[]>;
}

export interface PortForwarder {
  addForward(handles: VmHandles, hostPort: number, guestPort: number): Promise<void>;
  removeForward(handles: VmHandles, hostPort: number): Promise<void>;
}

/** The VM's own writable disk over a read-only image, in the format this driver boots. */
export interface DiskManager {
  /** Creates `dest` over `base` (raw ext4) with at least `sizeBytes` (never smaller than the base). */
  createDisk(base: string, dest: string, sizeBytes: number, log: Logger): Promise<void>;
  /** Grows a stopped VM's disk; shrinking is refused. The guest grows its file system at boot. */
  growDisk(disk: string, sizeBytes: number): Promise<void>;
  /** Bytes the disk takes on the host, or null when unknown. */
  usedBytes(disk: string): Promise<number | null>;
}

export interface Driver extends Lifecycle {
  info(): Promise<DriverInfo>;
  disks: DiskManager;
  /** Optional abilities; absent when the driver lacks them (check features first). */
  snapshots?: SnapshotManager;
  ports?: PortForwarder;
}
