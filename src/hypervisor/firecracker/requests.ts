/**
 * The Firecracker API requests banger sends, as plain values. Pure: a VmSpec in, an ordered list of
 * {method, path, body} out. Bodies are not re-typed here: spec/firecracker-api-v1.14.1.yaml is their
 * type, and contract.host.test.ts checks every request built here against it.
 *
 * Compatibility floor is Firecracker 1.5 (see version.ts), which shapes a few bodies:
 *  - drives always carry `path_on_host` and `is_read_only` (required before vhost-user block made them optional);
 *  - vsock omits the deprecated `vsock_id`; machine-config omits the deprecated `cpu_template`;
 *  - no PUT /serial (1.14-era): the guest console is the process's stdout, which the driver sends to the serial log.
 */
import { BangerError } from '../../api/errors.js';
import type { VmSpec } from '../driver.js';

export interface ApiRequest {
  method: 'GET' | 'PUT' | 'PATCH';
  path: string;
  body?: Record<string, unknown>;
}

/** Device ids as the API and the guest see them. */
export const ROOT_DRIVE_ID = 'rootfs';
export const IFACE_ID = 'eth0';
/**
 * Firecracker's vsock is backed by a per-VM unix socket, not vhost-vsock, so the CID only has to be
 * valid inside one guest (>= 3); every VM can use the same one.
 */
export const GUEST_CID = 3;
/** Firecracker accepts 1..32 vCPUs. */
export const MAX_VCPUS = 32;
/** Linux interface names are at most 15 bytes (IFNAMSIZ with the NUL). */
const MAX_IFNAME = 15;

/** Maps a host path to the path Firecracker sees (identity, or chroot-relative under the jailer). */
export type PathMapper = (hostPath: string) => string;
const identity: PathMapper = (p) => p;

export interface BootOptions {
  /** Host path of the vsock unix socket Firecracker will create. */
  vsockPath: string;
  mapPath?: PathMapper;
}

/** Refuses specs Firecracker cannot run, with the next step in the message. */
export function checkSpecForFirecracker(spec: VmSpec): asserts spec is VmSpec & { network: { mode: 'bridge' } } {
  if (spec.network.mode === 'user') {
    throw new BangerError(
      'bad_request',
      'Firecracker has no user-mode networking; use `--network bridge` (needs root), or run this VM on QEMU (hypervisor = "qemu")',
    );
  }
  if (spec.diskFormat !== 'raw') {
    throw new BangerError('bad_request', `Firecracker boots raw disks only, got ${spec.diskFormat}; prepare the VM disk with prepareRawDisk`, {
      details: { diskPath: spec.diskPath },
    });
  }
  if (!Number.isInteger(spec.vcpu) || spec.vcpu < 1 || spec.vcpu > MAX_VCPUS) {
    throw new BangerError('bad_request', `Firecracker runs 1 to ${MAX_VCPUS} vCPUs, got ${spec.vcpu}; pick a vcpu count in that range`);
  }
  if (!Number.isInteger(spec.memoryMib) || spec.memoryMib < 1) {
    throw new BangerError('bad_request', `memory must be a whole number of MiB, got ${spec.memoryMib}`);
  }
  const { tap, mac } = spec.network;
  if (!tap || Buffer.byteLength(tap) > MAX_IFNAME || /[\s/]/.test(tap)) {
    throw new BangerError('bad_request', `tap device name ${JSON.stringify(tap)} is not a valid interface name (1-${MAX_IFNAME} bytes, no spaces or slashes)`);
  }
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) {
    throw new BangerError('bad_request', `guest MAC ${JSON.stringify(mac)} is not of the form aa:bb:cc:dd:ee:ff`);
  }
}

function loggerRequest(spec: VmSpec, mapPath: PathMapper): ApiRequest {
  // Firecracker opens log_path without O_CREAT: the driver creates the file before this request.
  return { method: 'PUT', path: '/logger', body: { log_path: mapPath(spec.logPath), level: 'Info', show_level: true, show_log_origin: false } };
}

/** Configure-then-start, in the order Firecracker documents: logger first, InstanceStart last. */
export function buildBootRequests(spec: VmSpec, opts: BootOptions): ApiRequest[] {
  checkSpecForFirecracker(spec);
  const mapPath = opts.mapPath ?? identity;
  return [
    loggerRequest(spec, mapPath),
    { method: 'PUT', path: '/machine-config', body: { vcpu_count: spec.vcpu, mem_size_mib: spec.memoryMib } },
    {
      method: 'PUT',
      path: '/boot-source',
      body: { kernel_image_path: mapPath(spec.kernelPath), initrd_path: mapPath(spec.initrdPath), boot_args: spec.cmdline },
    },
    {
      method: 'PUT',
      path: `/drives/${ROOT_DRIVE_ID}`,
      body: { drive_id: ROOT_DRIVE_ID, path_on_host: mapPath(spec.diskPath), is_root_device: true, is_read_only: false },
    },
    {
      method: 'PUT',
      path: `/network-interfaces/${IFACE_ID}`,
      body: { iface_id: IFACE_ID, host_dev_name: spec.network.tap, guest_mac: spec.network.mac.toLowerCase() },
    },
    { method: 'PUT', path: '/vsock', body: { guest_cid: GUEST_CID, uds_path: mapPath(opts.vsockPath) } },
    actionRequest('InstanceStart'),
  ];
}

function actionRequest(action: 'InstanceStart' | 'SendCtrlAltDel'): ApiRequest {
  return { method: 'PUT', path: '/actions', body: { action_type: action } };
}

/** Ctrl-Alt-Del makes the guest reboot; Firecracker does not reboot, it exits. */
export function buildStopRequests(): ApiRequest[] {
  return [actionRequest('SendCtrlAltDel')];
}

export function buildPauseRequests(): ApiRequest[] {
  return [{ method: 'PATCH', path: '/vm', body: { state: 'Paused' } }];
}

export function buildResumeRequests(): ApiRequest[] {
  return [{ method: 'PATCH', path: '/vm', body: { state: 'Resumed' } }];
}

/** A saved state is two files: the device state at `statePath` and guest memory beside it. */
export function snapshotFiles(statePath: string): { snapshotPath: string; memFilePath: string } {
  return { snapshotPath: statePath, memFilePath: `${statePath}.mem` };
}

/** Firecracker snapshots only a paused VM; it stays paused afterwards (the SnapshotManager contract). */
export function buildSaveStateRequests(statePath: string, mapPath: PathMapper = identity): ApiRequest[] {
  const files = snapshotFiles(statePath);
  return [
    ...buildPauseRequests(),
    {
      method: 'PUT',
      path: '/snapshot/create',
      body: { snapshot_type: 'Full', snapshot_path: mapPath(files.snapshotPath), mem_file_path: mapPath(files.memFilePath) },
    },
  ];
}

export interface RestoreOptions {
  /**
   * Send `network_overrides` so the restored guest's eth0 uses this spec's tap. Off for binaries older
   * than NETWORK_OVERRIDES_SINCE, which then reuse the tap name recorded in the snapshot.
   */
  networkOverrides: boolean;
  mapPath?: PathMapper;
}

/**
 * A fresh process accepts only logger/metrics before PUT /snapshot/load. The disk and vsock paths come
 * from the snapshot itself (1.14.1 cannot override them), so a restore reuses the VM's own paths.
 */
export function buildRestoreRequests(spec: VmSpec, opts: RestoreOptions): ApiRequest[] {
  checkSpecForFirecracker(spec);
  if (!spec.restoreFrom) throw new BangerError('bad_request', 'buildRestoreRequests needs spec.restoreFrom (the saved state to load)');
  const mapPath = opts.mapPath ?? identity;
  const files = snapshotFiles(spec.restoreFrom);
  const body: Record<string, unknown> = {
    snapshot_path: mapPath(files.snapshotPath),
    mem_backend: { backend_type: 'File', backend_path: mapPath(files.memFilePath) },
    resume_vm: true,
  };
  if (opts.networkOverrides) body.network_overrides = [{ iface_id: IFACE_ID, host_dev_name: spec.network.tap }];
  return [loggerRequest(spec, mapPath), { method: 'PUT', path: '/snapshot/load', body }];
}
