/**
 * The only module that knows banger's on-disk layout. Every directory honours the XDG variables,
 * so several isolated installs can share a host (tests rely on this).
 *
 *   $XDG_CONFIG_HOME/banger/config.toml       user config (all keys optional)
 *   $XDG_STATE_HOME/banger/                   durable state
 *     banger.db                               SQLite: vms, images, kernels
 *     bangerd.log                             daemon log, JSON lines
 *     ui-secret                               the web UI's secret (0600): signs its cookies
 *     ssh/id_ed25519{,.pub}                   the install's SSH key (0600)
 *     ssh/known_hosts                         banger's own known_hosts (trust on first use)
 *     ssh/config                              generated ssh_config: Host NAME.vm blocks (`banger ssh-config`)
 *     kernels/<sha256>/                       content-addressed kernel (see KERNEL_FILES)
 *     images/<sha256>/                        content-addressed image (rootfs.ext4, manifest.json)
 *     vms/<id>/                               one VM (see VM_FILES)
 *     snapshots/<id>/                         one snapshot: saved state, RAM file + frozen disk layer (see SNAPSHOT_FILES)
 *     staging/                                half-built artifacts; renamed into place when complete
 *     jailer/                                 default jailer chroot base (same file system as images: hard links)
 *   $XDG_CACHE_HOME/banger/                   re-creatable downloads (.deb files)
 *     apt-archives/                           .debs of the last image build, seeded into the next one
 *     tools/                                  verified downloads for image builds (mise)
 *     apt/                                    banger's private apt (artifacts/apt): config, Debian lists, never the host's
 *     oci-blobs/sha256/<hex>                  OCI blobs of pulled images, shared across pulls (skopeo's shared blob dir)
 *     buildah/{storage,run}/                  buildah's own storage for `image build --dockerfile` (base images stay cached)
 *   $XDG_RUNTIME_DIR/banger/ (0700)           sockets: bangerd.sock, vms/<id>/qmp.sock
 *     (XDG_RUNTIME_DIR unset: /run/user/<uid>/banger when /run/user/<uid> exists, else /tmp/banger-<uid>;
 *      host/privatefile.ts ensurePrivateDir refuses it unless it is ours, 0700, not a link)
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { BangerError } from '../api/errors.js';
import { DAEMON_SOCKET_FILE, userRuntimeDir, type RuntimeHostFacts } from '../api/socket.js';

export interface Env {
  [key: string]: string | undefined;
}

/** Files inside a VM's state directory. */
export const VM_FILES = {
  /** copy-on-write disk over the image (qcow2) */
  disk: 'disk.qcow2',
  /** transient process state: pid, sockets, forwarded ports; re-discovered at daemon start */
  handles: 'handles.json',
  /** the guest's serial console */
  serial: 'serial.log',
  /** the hypervisor's own stderr */
  hypervisorLog: 'hypervisor.log',
  /**
   * present while a restore that gives the VM its identity (warm create, fork child) has not
   * finished; a daemon start that finds it deletes the VM (vms/interrupted.ts)
   */
  restoring: 'restoring',
} as const;

/** Files inside a VM's runtime directory (short path: unix sockets are limited to 108 bytes). */
export const VM_RUNTIME_FILES = {
  /** QEMU machine protocol socket */
  qmp: 'qmp.sock',
  /** where QEMU's and passt's socket pair is made (exists for milliseconds; hypervisor/qemu/passt.ts) */
  passt: 'passt.sock',
  /** Firecracker API socket */
  api: 'api.sock',
  /** Firecracker vsock: host side of the guest's virtio-vsock (connect, then `CONNECT <port>`) */
  vsock: 'vsock.sock',
  /** While `vm snapshot` writes the VM's RAM as a file (hypervisor/qemu/convert.ts): the converter's QMP, */
  convertQmp: 'convert.sock',
  /** the migration socket from the VM to the converter, */
  convertMigration: 'migrate.sock',
  /** and the converter's empty stand-in disk (the guest never runs there). */
  convertDisk: 'convert.qcow2',
  /** and its copy of the bulk port's socket, when the VM has one (never connected). */
  convertBulk: 'convert-bulk.sock',
  /** QEMU virtio-serial port `banger.bulk`: the raw host↔guest byte channel for bulk transfers (guest/bulk*.ts) */
  bulk: 'bulk.sock',
} as const;

/**
 * Files inside a snapshot's directory. The frozen layer lives here, never in a VM's directory, so
 * a snapshot outlives the VM it was taken from; VM overlays (and child snapshots) sit on top of it.
 */
export const SNAPSHOT_FILES = {
  /**
   * memory + device state as the hypervisor saved it (QEMU migration stream); device state only
   * when `memory` exists next to it
   */
  state: 'state.bin',
  /**
   * the guest RAM as a plain sparse file (QEMU): every VM restored from the snapshot maps it
   * copy-on-write, so unchanged pages are one page-cache copy for all of them; never written
   * after the snapshot is made
   */
  memory: 'memory.bin',
  /** the frozen disk layer (qcow2, read-only), backed by the image or a parent snapshot's layer */
  disk: 'disk.qcow2',
  /** the warm template's guest console and hypervisor log (warm snapshots only) */
  serial: 'serial.log',
  hypervisorLog: 'hypervisor.log',
  /** the warm template's process handles while it is being built (crash recovery) */
  handles: 'handles.json',
} as const;

/** Files inside an image's content-addressed directory. */
export const IMAGE_FILES = {
  /** the root filesystem, raw ext4 (sparse); its sha256 names the directory */
  rootfs: 'rootfs.ext4',
  /** ImageManifest (api/image.ts) as JSON */
  manifest: 'manifest.json',
} as const;

/** Files inside a kernel's directory (kernels/<sha256>/). */
export const KERNEL_FILES = {
  /** the compressed bzImage as shipped (optional for imported kernels) */
  vmlinuz: 'vmlinuz',
  /** uncompressed ELF with the PVH entry: what QEMU and Firecracker boot */
  vmlinux: 'vmlinux',
  /** gzip newc initramfs (busybox + virtio modules + banger's /init) */
  initrd: 'initrd.img',
  /** KernelManifest (src/api/kernel.ts) */
  manifest: 'manifest.json',
  /** modules/<release>/: the kernel's /lib/modules tree, copied into images */
  modules: 'modules',
} as const;

/** The longest unix socket path the kernel accepts (sun_path is 108 bytes with the NUL). */
export const MAX_SOCKET_PATH = 107;

export interface Paths {
  configDir: string;
  configFile: string;
  stateDir: string;
  cacheDir: string;
  runtimeDir: string;
  db: string;
  daemonLog: string;
  daemonSocket: string;
  daemonPidFile: string;
  /** Held (an exclusive kernel lock) by the one bangerd of this install: daemon/instance-lock.ts. */
  daemonLock: string;
  sshDir: string;
  sshKey: string;
  knownHosts: string;
  /** banger's generated ssh_config (rewritten by the daemon on VM changes). */
  sshConfig: string;
  /** The loopback HTTP listener's port when config leaves it to banger: kept so URLs stay the same across restarts. */
  httpPortFile: string;
  /** The web UI's per-install secret (0600): signs its session cookies and CSRF tokens (ui/auth.ts). */
  uiSecret: string;
  /** The E2B-compatible endpoint's API key (X-API-Key), 0600. */
  e2bApiKey: string;
  kernelsDir: string;
  imagesDir: string;
  vmsDir: string;
  snapshotsDir: string;
  stagingDir: string;
  debCacheDir: string;
  aptArchiveCacheDir: string;
  /** Verified downloads used by image builds (artifacts/image/mise.ts). */
  toolCacheDir: string;
  /** Default `jailer_chroot_base`: under the state dir, so jails can hard-link images and disks. */
  jailerDir: string;
  /** The user's home (`~` in config.toml's file_sync). */
  home: string;
  /** banger's own apt configuration and Debian package lists (artifacts/apt/config.ts lays it out). */
  aptDir: string;
  /** Content-addressed OCI blobs (sha256/<hex>) shared by every `image pull` of an OCI reference. */
  ociBlobsDir: string;
  /** buildah's storage root and run root for Dockerfile builds (kept apart from the user's own containers). */
  buildahDir: string;
  vmDir(id: string): string;
  vmFile(id: string, file: keyof typeof VM_FILES): string;
  vmRuntimeDir(id: string): string;
  vmSocket(id: string, file: keyof typeof VM_RUNTIME_FILES): string;
  kernelDir(sha: string): string;
  kernelFile(sha: string, file: keyof typeof KERNEL_FILES): string;
  imageDir(sha: string): string;
  imageFile(sha: string, file: keyof typeof IMAGE_FILES): string;
  snapshotDir(id: string): string;
  snapshotFile(id: string, file: keyof typeof SNAPSHOT_FILES): string;
}

/** What resolvePaths needs to know about the host besides the environment. */
export type PathHostFacts = RuntimeHostFacts;

/** Resolves every path from the environment. Pure: pass `env` (and `host`) in tests. */
export function resolvePaths(env: Env = process.env, host?: PathHostFacts): Paths {
  const home = env.HOME || homedir();
  const configDir = join(env.XDG_CONFIG_HOME || join(home, '.config'), 'banger');
  const stateDir = join(env.XDG_STATE_HOME || join(home, '.local', 'state'), 'banger');
  const cacheDir = join(env.XDG_CACHE_HOME || join(home, '.cache'), 'banger');
  const runtimeDir = userRuntimeDir(env, host);
  const sshDir = join(stateDir, 'ssh');
  const vmsDir = join(stateDir, 'vms');
  const kernelsDir = join(stateDir, 'kernels');
  const imagesDir = join(stateDir, 'images');
  const snapshotsDir = join(stateDir, 'snapshots');
  const vmRuntimeDir = (id: string) => join(runtimeDir, 'vms', id);
  return {
    configDir,
    configFile: join(configDir, 'config.toml'),
    stateDir,
    cacheDir,
    runtimeDir,
    db: join(stateDir, 'banger.db'),
    daemonLog: join(stateDir, 'bangerd.log'),
    daemonSocket: checkSocketPath(join(runtimeDir, DAEMON_SOCKET_FILE)),
    daemonPidFile: join(runtimeDir, 'bangerd.pid'),
    daemonLock: join(stateDir, 'bangerd.lock'),
    sshDir,
    sshKey: join(sshDir, 'id_ed25519'),
    knownHosts: join(sshDir, 'known_hosts'),
    sshConfig: join(sshDir, 'config'),
    httpPortFile: join(stateDir, 'http-port'),
    uiSecret: join(stateDir, 'ui-secret'),
    e2bApiKey: join(stateDir, 'e2b-api-key'),
    kernelsDir,
    imagesDir,
    vmsDir,
    snapshotsDir,
    stagingDir: join(stateDir, 'staging'),
    debCacheDir: join(cacheDir, 'debs'),
    aptArchiveCacheDir: join(cacheDir, 'apt-archives'),
    toolCacheDir: join(cacheDir, 'tools'),
    jailerDir: join(stateDir, 'jailer'),
    home,
    aptDir: join(cacheDir, 'apt'),
    ociBlobsDir: join(cacheDir, 'oci-blobs'),
    buildahDir: join(cacheDir, 'buildah'),
    vmDir: (id) => join(vmsDir, id),
    vmFile: (id, file) => join(vmsDir, id, VM_FILES[file]),
    vmRuntimeDir,
    vmSocket: (id, file) => checkSocketPath(join(vmRuntimeDir(id), VM_RUNTIME_FILES[file])),
    kernelDir: (sha) => join(kernelsDir, sha),
    kernelFile: (sha, file) => join(kernelsDir, sha, KERNEL_FILES[file]),
    imageDir: (sha) => join(imagesDir, sha),
    imageFile: (sha, file) => join(imagesDir, sha, IMAGE_FILES[file]),
    snapshotDir: (id) => join(snapshotsDir, id),
    snapshotFile: (id, file) => join(snapshotsDir, id, SNAPSHOT_FILES[file]),
  };
}

/**
 * Host-wide paths of a system install (`banger system install`), under `root` (default `/`).
 * BANGER_SYSTEM_ROOT moves the whole tree (tests only: install/uninstall against a temporary root).
 */
export function systemPaths(env: Env = process.env, root = env.BANGER_SYSTEM_ROOT || '/') {
  return {
    root,
    /** InstallRecord (src/system/record.ts) as JSON */
    installRecord: join(root, 'etc', 'banger', 'install.json'),
    unitDir: join(root, 'etc', 'systemd', 'system'),
    /** RuntimeDirectory=banger of bangerd.service (owned by the owner, 0700) */
    daemonSocket: join(root, 'run', 'banger', 'bangerd.sock'),
    /** RuntimeDirectory=banger-root of bangerd-root.service; the socket is chowned to the owner, 0600 */
    helperSocket: join(root, 'run', 'banger-root', 'helper.sock'),
  };
}
export type SystemPaths = ReturnType<typeof systemPaths>;

export function checkSocketPath(path: string): string {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new BangerError(
      'bad_request',
      `socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes; set XDG_RUNTIME_DIR to a shorter directory`,
    );
  }
  return path;
}
