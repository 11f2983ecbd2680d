/**
 * The warm snapshot cache: for a `vm create` that fits (snapshots/warm.ts decides), the image's
 * `warm:<image>` snapshot, built on first use by booting a template VM, letting it settle, saving
 * it and throwing the template away; rebuilt when its key changes. One build per image at a time;
 * a build that failed is not retried until the daemon restarts.
 */
import type { Accel } from '../api/enums.js';
import { mkdirSync, rmSync } from 'node:fs';
import type { Progress } from '../api/progress.js';
import type { ResolvedBoot } from '../artifacts/service.js';
import type { Config } from '../config/config.js';
import type { GuestAccess } from '../guest/access.js';
import { aliasFor } from '../guest/knownhosts.js';
import { SingleFlight } from '../host/locks.js';
import type { Logger } from '../host/logger.js';
import type { Driver, VmHandles } from '../hypervisor/driver.js';
import { freePort } from '../network/ports.js';
import { writeHandles } from '../store/handles.js';
import { newId } from '../store/ids.js';
import type { Paths } from '../store/paths.js';
import type { SnapshotRecord } from '../store/snapshots.js';
import { USER_NET, buildBootArgs } from '../hypervisor/bootargs.js';
import type { RestoreSource, WarmRequestInput } from '../vms/contracts.js';
import { warmName } from './names.js';
import type { SnapshotRegistry } from './registry.js';
import { decideWarm, warmCacheAction, warmKey } from './warm.js';

export interface WarmCacheDeps {
  registry: SnapshotRegistry;
  paths: Paths;
  config: Config;
  driver: Driver;
  driverName: string;
  accel: Accel;
  guest: GuestAccess;
  log: Logger;
  /** The template's wait for SSH. */
  sshTimeoutMs: number;
}

/** The warm snapshot to restore for this create (built on first use), or null to boot (says why in progress). */
export type WarmFor = (req: WarmRequestInput, progress: Progress, signal?: AbortSignal) => Promise<RestoreSource | null>;

export function createWarmCache(deps: WarmCacheDeps): WarmFor {
  const { registry: reg, paths, config, driver, driverName, guest, log } = deps;
  const store = reg.store;
  const flights = new SingleFlight();
  /** Warm keys whose build failed in this daemon's life: not retried on every create (a restart retries). */
  const warmFailures = new Map<string, string>();

  async function ensureWarm(req: WarmRequestInput, key: string, version: string, progress: Progress, signal?: AbortSignal): Promise<SnapshotRecord> {
    const image = req.resolved.image.name;
    const cached = store.findByName(warmName(image));
    const action = warmCacheAction(cached ? { warmKey: cached.spec.warmKey } : null, key);
    reg.collectStaleWarm();
    if (action === 'use') return cached!;
    if (action === 'replace') {
      progress('warm', `the image, kernel or VM defaults changed since ${warmName(image)} was made: rebuilding it`);
      reg.retireWarm(cached!);
    }
    return buildWarm(req.resolved, key, version, progress, signal);
  }

  /** Boots a template VM of the image, waits until it has settled, saves it, throws the template away. */
  async function buildWarm(resolved: ResolvedBoot, key: string, version: string, progress: Progress, signal?: AbortSignal): Promise<SnapshotRecord> {
    const image = resolved.image.name;
    const d = config.vmDefaults;
    const id = newId();
    const dir = paths.snapshotDir(id);
    const templateId = `warm-${id}`;
    const runtimeDir = paths.vmRuntimeDir(templateId);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
    progress('warm', `building ${warmName(image)}: one boot now, then VMs of ${image} restore it instead of booting`);
    let h: VmHandles | null = null;
    try {
      await driver.disks.createDisk(resolved.image.rootfsPath, reg.layerPath(id), d.diskSizeBytes, log);
      const port = await freePort();
      h = await driver.start(
        {
          id: templateId,
          name: 'banger-warm',
          vcpu: d.vcpu,
          memoryMib: d.memoryMib,
          kernelPath: resolved.kernel.vmlinuxPath,
          initrdPath: resolved.kernel.initrdPath,
          cmdline: buildBootArgs({ hostname: 'banger-warm', sshKeyBlob: await guest.publicKeyBlob(), net: USER_NET, accel: deps.accel }),
          diskPath: reg.layerPath(id),
          diskFormat: 'qcow2',
          serialLogPath: paths.snapshotFile(id, 'serial'),
          logPath: paths.snapshotFile(id, 'hypervisorLog'),
          runtimeDir,
          accel: deps.accel,
          network: { mode: 'user', sshHostPort: port, egress: false, forwards: [] },
          // The RAM is written out as the snapshot's memory file, which every warm VM maps copy-on-write.
          shareableMemory: true,
          bulkChannel: true,
        },
        log.child({ warm: image }),
      );
      const bulkChannel = typeof h.bulkSocket === 'string';
      // Kept until the template is gone, so a daemon that dies meanwhile can end it at next start.
      writeHandles(paths.snapshotFile(id, 'handles'), { ...h, driver: driverName, ssh: { host: '127.0.0.1', port }, forwards: [] });
      progress('warm', 'waiting for the template to boot');
      const templateAlias = aliasFor(templateId);
      const s = await guest.open({ vmId: templateId, alias: templateAlias, host: '127.0.0.1', port }, { timeoutMs: deps.sshTimeoutMs, signal });
      // Grow the file system to the disk size (as every boot does) and let boot jobs finish, so
      // restored VMs do not redo them; then flush.
      await s.run(['sh', '-c', 'resize2fs /dev/vda >/dev/null 2>&1; timeout 90 systemctl is-system-running --wait >/dev/null 2>&1; sync; true'], {
        timeoutMs: 120_000,
      });
      guest.drop(templateId);
      await guest.forget(templateAlias);
      progress('warm', 'saving the template');
      const nicMac = await (driver.snapshots!.nicMac?.(h) ?? Promise.resolve(null)).catch(() => null);
      const memoryFile = await driver.snapshots!.saveState(h, reg.statePath(id), reg.memoryPath(id));
      await driver.kill(h, 'SIGKILL');
      h = null;
      await reg.layers.seal(reg.layerPath(id));
      const row = store.insert({
        id,
        name: warmName(image),
        kind: 'warm',
        parentId: null,
        sourceVm: null,
        image,
        kernel: resolved.kernel.name,
        spec: {
          vcpu: d.vcpu,
          memoryMib: d.memoryMib,
          diskSizeBytes: await reg.layers.virtualSize(reg.layerPath(id)),
          accel: deps.accel,
          hypervisor: driverName,
          hypervisorVersion: version,
          network: 'user',
          workspace: null,
          warmKey: key,
          bulkChannel,
          ...(nicMac ? { nicMac } : {}),
          memoryFile,
        },
        stateBytes: reg.stateBytesOf(id),
      });
      log.info({ image, snapshot: row.name, stateBytes: row.stateBytes }, 'warm snapshot built');
      return row;
    } catch (err) {
      if (h) await driver.kill(h, 'SIGKILL').catch(() => undefined);
      guest.drop(templateId);
      await guest.forget(aliasFor(templateId)).catch(() => undefined);
      reg.removeFiles(id);
      throw err;
    } finally {
      rmSync(paths.snapshotFile(id, 'handles'), { force: true });
      rmSync(runtimeDir, { recursive: true, force: true });
    }
  }

  return async function warmFor(req, progress, signal) {
    const a = await reg.ability();
    const d = config.vmDefaults;
    const decision = decideWarm({
      cold: req.cold,
      image: req.image,
      defaultImage: config.defaultImageName,
      vcpu: req.vcpu,
      memoryMib: req.memoryMib,
      diskSizeBytes: req.diskSizeBytes,
      network: req.network,
      defaults: d,
      unsupported: a.unsupported,
    });
    if (decision.mode === 'cold') {
      if (decision.reason) progress('warm', decision.reason);
      return null;
    }
    const image = req.resolved.image.name;
    const imageSha = store.artifactSha('images', image);
    const kernelSha = store.artifactSha('kernels', req.resolved.kernel.name);
    if (!imageSha || !kernelSha) return null;
    const key = warmKey({
      imageSha,
      kernelSha,
      vcpu: d.vcpu,
      memoryMib: d.memoryMib,
      diskSizeBytes: d.diskSizeBytes,
      accel: deps.accel,
      hypervisor: driverName,
      hypervisorVersion: a.version,
      sshKeyBlob: await guest.publicKeyBlob(),
    });
    const failed = warmFailures.get(key);
    if (failed) {
      progress('warm', `cold boot: building ${warmName(image)} failed earlier (${failed}); restart the daemon to retry`);
      return null;
    }
    try {
      const snap = await flights.run(`warm:${image}`, () => ensureWarm(req, key, a.version, progress, signal));
      return reg.sourceOf(snap, 'fresh');
    } catch (err) {
      const why = (err as Error).message;
      // A cancelled request is not the build's fault.
      if (!signal?.aborted) warmFailures.set(key, why);
      log.warn({ image, err: why }, 'warm snapshot unavailable; booting');
      progress('warm', `cold boot: ${warmName(image)} could not be built (${why})`);
      return null;
    }
  };
}
