/**
 * A running QEMU's guest RAM written out as a plain file (a snapshot's memory.bin) with its device
 * state saved apart, so every restore maps the file copy-on-write and unchanged pages are one
 * page-cache copy for all of them (Kata Containers' VM templating; DESIGN.md). The device state
 * is then saved with the `x-ignore-shared` migration capability: RAM in a shared backend is left
 * out of the stream, and a restore with the same capability takes its RAM from the file.
 *
 * Two ways to the file:
 * - the VM keeps its RAM in a shared memfd (the warm template, `shareableMemory`): save the device
 *   state, then copy the memfd's pages (sparse: pages never touched stay holes);
 * - any other VM (anonymous RAM, or a private mapping of an older snapshot's file): migrate it once
 *   over a unix socket into a *converter*, a second QEMU with the same devices and its RAM in a
 *   shared memfd that never runs the guest, then do the above on the converter.
 * QEMU 7.2 cannot migrate a VM twice without running it in between (block nodes are inactive after
 * the first), so once the VM's migration to the converter has completed there is no falling back:
 * a failure after that fails the save. A failure before it leaves the VM as it was.
 */
import { existsSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { chmod, rename, rm } from 'node:fs/promises';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { BangerError } from '../../api/errors.js';
import { run, spawnProcess } from '../../host/exec.js';
import type { Logger } from '../../host/logger.js';
import { checkSocketPath, VM_RUNTIME_FILES } from '../../store/paths.js';
import type { VmHandles, VmSpec } from '../driver.js';
import { buildQemuArgs, type QemuMachine } from './args.js';
import { processState, waitUntil } from './process.js';
import { pidsMentioning } from '../../host/procstat.js';
import { QmpClient, withQmp } from './qmp.js';
import { MIGRATE_MAX_BANDWIDTH, sleep, waitForMigration, writeState } from './savestate.js';

/** What the driver records in handles.json about a VM's RAM (QemuHandles extends it). */
export interface QemuMemoryFacts {
  /** `shareable`: RAM in a shared memfd (copied out at save); `file`: a private mapping of a snapshot's RAM file; absent: anonymous. */
  memory?: 'shareable' | 'file';
  /** The VM's spec as started, without its restore source: what a converter copies its devices from. */
  mirror?: VmSpec;
}

export interface ConvertDeps {
  bin: string;
  qemuImg: string;
  sandbox: () => Promise<boolean>;
  startTimeoutMs: number;
  saveTimeoutMs: number;
  log: Logger;
}

const MIB = 1024 ** 2;
/** A converter's files in its VM's runtime directory. */
const CONVERTER_FILES = ['convertQmp', 'convertMigration', 'convertDisk', 'convertBulk'] as const;

/** The /proc path of the memfd holding a QEMU's guest RAM (the one memfd of exactly the RAM's size). */
export function ramMemfdPath(pid: number, sizeBytes: number): string {
  const dir = `/proc/${pid}/fd`;
  for (const fd of readdirSync(dir)) {
    const p = join(dir, fd);
    try {
      if (readlinkSync(p).startsWith('/memfd:') && statSync(p).size === sizeBytes) return p;
    } catch {
      // closed meanwhile
    }
  }
  throw new BangerError('internal', `QEMU pid ${pid} has no shared memory of ${sizeBytes / MIB} MiB to write out`);
}

/** Copies a paused QEMU's memfd RAM to `dest` (sparse), 0600 (QEMU 7.2 opens a RAM file read-write even to map it privately). */
export async function copyRamOut(pid: number, memoryMib: number, dest: string): Promise<void> {
  const src = ramMemfdPath(pid, memoryMib * MIB);
  const part = `${dest}.part`;
  await rm(part, { force: true });
  try {
    await run(['cp', '--sparse=always', src, part]);
    await chmod(part, 0o600);
    await rename(part, dest);
  } catch (err) {
    await rm(part, { force: true });
    throw err;
  }
}

/** Can this VM's RAM be converted (its spec was recorded, and a converter can stand in for its network)? */
export function convertible(h: VmHandles & QemuMemoryFacts): boolean {
  return !!h.mirror && h.mirror.network.mode === 'user';
}

/**
 * Migrates the (paused) VM into a converter and writes its RAM to `memoryPath` and its device
 * state to `statePath`. Resolves false when nothing happened to the VM (the caller may save it the
 * ordinary way); throws when the VM's migration completed but the rest failed.
 */
export async function convertState(deps: ConvertDeps, h: VmHandles & QemuMemoryFacts & { machine: QemuMachine }, statePath: string, memoryPath: string): Promise<boolean> {
  const mirror = h.mirror!;
  const dir = mirror.runtimeDir;
  const qmpSocket = checkSocketPath(join(dir, VM_RUNTIME_FILES.convertQmp));
  const migSocket = checkSocketPath(join(dir, VM_RUNTIME_FILES.convertMigration));
  const disk = join(dir, VM_RUNTIME_FILES.convertDisk);
  // The converter must have every device the VM has, the bulk port included (its own socket, unused).
  const bulkSocket = mirror.bulkChannel ? checkSocketPath(join(dir, VM_RUNTIME_FILES.convertBulk)) : undefined;
  const clean = () => Promise.all(CONVERTER_FILES.map((f) => rm(join(dir, VM_RUNTIME_FILES[f]), { force: true })));
  await clean();
  const t0 = Date.now();
  // The guest never runs in the converter: an empty stand-in disk takes the place of the VM's.
  await run([deps.qemuImg, 'create', '-q', '-f', 'qcow2', disk, '1G']);
  const spec: VmSpec = { ...mirror, diskPath: disk, diskFormat: 'qcow2', shareableMemory: true, restoreFrom: undefined, restoreMemoryFrom: undefined };
  const argv = [deps.bin, ...buildQemuArgs(spec, { machine: h.machine, qmpSocket, sandbox: await deps.sandbox(), converter: true, bulkSocket })];
  const fd = openSync(mirror.logPath, 'a');
  let child;
  try {
    child = spawnProcess(argv, { detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  let exited = false;
  void child.exit.then(
    () => (exited = true),
    () => (exited = true),
  );
  let sourceMigrated = false;
  try {
    const conv = await connect(qmpSocket, () => exited, deps.startTimeoutMs);
    try {
      await conv.execute('migrate-incoming', { uri: `unix:${migSocket}` });
      await withQmp(h.controlSocket, async (qmp) => {
        await qmp.execute('stop');
        // Off: this VM's RAM is not shared, and the converter reads the stream without the capability.
        await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: false }] });
        await qmp.execute('migrate-set-parameters', { 'max-bandwidth': MIGRATE_MAX_BANDWIDTH });
        await qmp.execute('migrate', { uri: `unix:${migSocket}` });
        try {
          await waitForMigration(qmp, deps.saveTimeoutMs, 'migrating the VM into its converter');
        } catch (err) {
          await qmp.execute('migrate_cancel').catch(() => undefined);
          throw err;
        }
      });
      sourceMigrated = true;
      await waitForMigration(conv, deps.saveTimeoutMs, 'the converter receiving the VM');
    } finally {
      conv.close();
    }
    await writeState(qmpSocket, statePath, { ignoreShared: true, timeoutMs: deps.saveTimeoutMs, log: deps.log });
    await copyRamOut(child.pid, mirror.memoryMib, memoryPath);
    deps.log.info({ pid: h.pid, memoryPath, ms: Date.now() - t0 }, 'qemu RAM written as a file');
    return true;
  } catch (err) {
    await rm(memoryPath, { force: true });
    if (!sourceMigrated) {
      deps.log.warn({ pid: h.pid, err: (err as Error).message }, 'RAM not written as a file; saving the whole state instead');
      return false;
    }
    throw err;
  } finally {
    if (!exited) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await waitUntil(() => exited || processState(child.pid) !== 'running', 5000);
    }
    await clean();
  }
}

/**
 * Ends a converter a crashed daemon left running for the VM whose runtime directory is `dir`, and
 * removes its files. Resolves with what it did.
 */
export async function endConverter(dir: string): Promise<string[]> {
  const done: string[] = [];
  for (const pid of pidsMentioning(join(dir, VM_RUNTIME_FILES.convertQmp))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
    await waitUntil(() => processState(pid) !== 'running', 5000);
    done.push(`ended a RAM converter left running (pid ${pid})`);
  }
  await Promise.all(CONVERTER_FILES.map((f) => rm(join(dir, VM_RUNTIME_FILES[f]), { force: true })));
  return done;
}

async function connect(socket: string, exited: () => boolean, timeoutMs: number): Promise<QmpClient> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited()) break;
    if (existsSync(socket)) {
      try {
        return await QmpClient.connect(socket, { timeoutMs: Math.max(500, deadline - Date.now()) });
      } catch {
        // not accepting yet
      }
    }
    await sleep(50);
  }
  throw new BangerError('internal', `the RAM converter did not start (${exited() ? 'it exited; see the VM log' : 'no QMP socket'})`);
}
