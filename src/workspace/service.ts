/**
 * The workspace service: prepare (copy a host repo into a VM) and export (the guest's changes as a
 * patch). Locking (DESIGN.md): the VM's lifecycle lock is held only inside `vms.session()`, to check
 * the VM runs and take its SSH session; all guest I/O runs under the per-VM workspace lock, which
 * lifecycle operations never take. So `vm stop`/`delete` never wait for a slow import, two prepares
 * on one VM run one after the other, and an export never sees a half-streamed import.
 */
import { BangerError, conflict } from '../api/errors.js';
import { noProgress, type Progress } from '../api/progress.js';
import type { Vm, Workspace } from '../api/vm.js';
import type { WorkspaceExportParams, WorkspaceExportResult, WorkspacePlan, WorkspacePlanParams, WorkspacePrepareParams, WorkspacePrepareResult } from '../api/workspace.js';
import type { Locks } from '../host/locks.js';
import type { Logger } from '../host/logger.js';
import type { GuestSession } from '../guest/access.js';
import type { VmRecord } from '../store/vms.js';
import { once } from 'node:events';
import { join } from 'node:path';
import { applyPatch } from './apply.js';
import { buildBundle } from './bundle.js';
import { ExportOutputParser } from './exportframe.js';
import { createImporter, type Importer } from './importer.js';
import { createBulkChannels, type BulkChannels } from '../guest/bulk.js';
import { planWorkspace } from './plan.js';
import { inspectRepo } from './repo.js';
import { GUEST_EXIT, exportCommand } from './scripts.js';
import { openPrivateFile, privateTempDir, type PrivateDir } from './tempfiles.js';
import type { z } from 'zod';

/** What the service needs from the VM service (a narrow view, so tests can stand in for it). */
export interface WorkspaceVms {
  lookup(name: string): VmRecord;
  view(rec: VmRecord): Vm;
  /** Holds the VM's lifecycle lock only while checking it runs; returns its pooled session. */
  session(name: string, signal?: AbortSignal): Promise<{ rec: VmRecord; session: GuestSession; handles?: Readonly<Record<string, unknown>> }>;
  setWorkspace(id: string, ws: Workspace | null): void;
}

export interface WorkspaceServiceDeps {
  vms: WorkspaceVms;
  locks: Locks;
  log: Logger;
  /** Copies the bundle into the guest. Test seam: a stand-in can stall or count imports. @default createImporter (bulk channel, else SSH) */
  importer?: Importer;
  /** The VMs' bulk channels (one transfer per VM at a time). @default createBulkChannels() */
  bulk?: BulkChannels;
  now?: () => Date;
  /** Largest patch export accepts from a guest. @default 512 MiB */
  maxPatchBytes?: number;
  /** Parent directory for prepare's bundle and export --apply's spilled patch. @default os.tmpdir() */
  tmpDir?: string;
}

export type PlanParams = z.output<typeof WorkspacePlanParams>;
export type PrepareParams = z.output<typeof WorkspacePrepareParams>;
export type ExportParams = z.output<typeof WorkspaceExportParams>;

export interface ExportSink {
  /** Patch bytes, in order (not called with nameOnly). false: wait for drained() before more. */
  write(chunk: Buffer): boolean | void;
  drained?(): Promise<void>;
}

export function createWorkspaceService(deps: WorkspaceServiceDeps) {
  const { vms, locks, log } = deps;
  const importer = deps.importer ?? createImporter({ bulk: deps.bulk ?? createBulkChannels(), log });
  const now = deps.now ?? (() => new Date());
  const maxPatchBytes = deps.maxPatchBytes ?? 512 * 1024 * 1024;

  function requireRunningNow(name: string): VmRecord {
    const rec = vms.lookup(name);
    const v = vms.view(rec);
    if (v.state !== 'running') throw conflict(`VM "${name}" is ${v.state}; run \`banger vm start ${name}\` first`, { state: v.state });
    return rec;
  }

  /** After a failed guest operation: say so plainly if the VM went away under it. */
  function explainLoss(name: string, id: string, what: string, err: unknown): unknown {
    let state: string;
    try {
      const cur = vms.lookup(name);
      state = cur.id !== id ? 'deleted' : vms.view(cur).state;
    } catch {
      state = 'deleted';
    }
    if (state === 'running') return err;
    const next = state === 'deleted' ? '' : `; start it (\`banger vm start ${name}\`) and try again`;
    return new BangerError('conflict', `VM "${name}" was ${state === 'deleted' ? 'deleted' : 'stopped'} during workspace ${what}; nothing was recorded${next}`, {
      cause: err,
      details: { state },
    });
  }

  return {
    /** What prepare would copy (`--dry-run`, and the CLI's check before `vm run PATH`): the host repo alone, no VM. */
    async plan(p: PlanParams): Promise<WorkspacePlan> {
      const repo = await inspectRepo(p.hostPath);
      const { view } = await planWorkspace(repo, p);
      return p.listFiles ? view : { ...view, files: [] };
    },

    async prepare(p: PrepareParams, progress: Progress = noProgress, signal?: AbortSignal): Promise<WorkspacePrepareResult> {
      const t0 = Date.now();
      const { id } = requireRunningNow(p.name);
      const repo = await inspectRepo(p.hostPath);
      // Host-side work happens before the workspace lock: queued prepares plan in parallel.
      const plan = await planWorkspace(repo, { ...p, progress });
      const bundle = await buildBundle({ repo, plan, tmpDir: deps.tmpDir, progress, now });
      try {
        return await locks.workspace.with(id, async () => {
          const { rec, session, handles } = await vms.session(p.name, signal);
          if (rec.id !== id) throw conflict(`VM "${p.name}" was replaced while the workspace was being planned; prepare again`);
          progress('copy', `${bundle.fileCount} files into ${p.guestPath}`);
          try {
            await importer(session, bundle, { guestPath: p.guestPath, signal, progress, vm: p.name, vmId: id, bulkSocket: handles?.bulkSocket });
          } catch (err) {
            throw explainLoss(p.name, id, 'prepare', err);
          }
          const ws: Workspace = {
            guestPath: p.guestPath,
            hostSource: repo.root,
            headCommit: bundle.headCommit,
            branch: bundle.branch,
            mode: p.mode,
            preparedAt: now().toISOString(),
          };
          try {
            vms.setWorkspace(id, ws);
          } catch (err) {
            throw explainLoss(p.name, id, 'prepare', err);
          }
          log.info({ vm: p.name, files: bundle.fileCount, bytes: bundle.bytes, packBytes: bundle.packBytes, ms: Date.now() - t0 }, 'workspace prepared');
          return {
            workspace: ws,
            fileCount: bundle.fileCount,
            bytes: bundle.bytes,
            packBytes: bundle.packBytes,
            preparedCommit: bundle.preparedCommit,
            skipped: bundle.skipped,
            elapsedMs: Date.now() - t0,
          };
        });
      } finally {
        await bundle.cleanup();
      }
    },

    async export(p: ExportParams, sink: ExportSink, progress: Progress = noProgress, signal?: AbortSignal): Promise<WorkspaceExportResult> {
      const { id } = vms.lookup(p.name);
      // --apply: the patch goes to a private temp file (never held in memory), which git apply then reads.
      const spill = p.apply ? await spillFile(deps.tmpDir) : null;
      try {
        const { header, bytes } = await locks.workspace.with(id, () => runExport(p, id, spill ? spill.sink : sink, progress, signal));
        let appliedTo: string | null = null;
        if (spill) {
          await spill.close();
          const target = p.repo ?? vms.lookup(p.name).workspace?.hostSource;
          if (!target) throw new BangerError('bad_request', `no host repo recorded for VM "${p.name}"; pass --repo PATH`);
          progress('apply', `applying ${header.files.length} files to ${target}`);
          appliedTo = (await applyPatch(target, { file: spill.file, size: bytes })).repo;
        }
        return { baseCommit: header.base, files: header.files, bytes, appliedTo };
      } finally {
        await spill?.remove();
      }
    },
  };

  /** Runs the export script in the guest (under the workspace lock) and feeds its output through the frame parser. */
  async function runExport(p: ExportParams, id: string, sink: ExportSink, progress: Progress, signal?: AbortSignal) {
    const { rec, session } = await vms.session(p.name, signal);
    const guestPath = p.guestPath ?? rec.workspace?.guestPath;
    if (!guestPath) {
      throw new BangerError('bad_request', `VM "${p.name}" has no workspace; run \`banger vm workspace prepare ${p.name}\` first, or pass --guest-path`);
    }
    progress('export', `diffing ${guestPath}`);
    const h = session.exec(
      exportCommand(guestPath, { base: p.baseCommit ?? null, recordedHead: rec.workspace?.headCommit ?? null, what: p.nameOnly ? 'names' : 'patch' }),
    );
    let failure: unknown = null;
    const fail = (err: unknown) => {
      failure ??= err;
      h.kill('KILL');
      h.stdout.resume(); // discard the rest
    };
    const parser = new ExportOutputParser({
      vm: p.name,
      maxPatchBytes,
      onPatch: (c) => {
        // Backpressure: a slow sink pauses the guest's output instead of buffering it here.
        if (sink.write(c) === false && sink.drained) {
          h.stdout.pause();
          sink.drained().then(() => h.stdout.resume(), fail);
        }
      },
    });
    h.stdout.on('data', (c: Buffer) => {
      if (failure) return;
      try {
        parser.push(c);
      } catch (err) {
        fail(err);
      }
    });
    const errChunks: Buffer[] = [];
    h.stderr.on('data', (c: Buffer) => errChunks.length < 64 && errChunks.push(c));
    const onAbort = () => h.kill('KILL');
    signal?.addEventListener('abort', onAbort, { once: true });
    let status;
    try {
      status = await h.exit;
    } catch (err) {
      throw explainLoss(p.name, id, 'export', err);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    // The channel can close while paused output still waits in the stream: read it to its end.
    if (!failure && !h.stdout.readableEnded) {
      await new Promise<void>((res) => {
        h.stdout.once('end', res);
        h.stdout.once('close', res);
        h.stdout.once('error', () => res());
      });
    }
    if (failure) throw failure;
    const why = Buffer.concat(errChunks).toString('utf8').trim().split('\n').slice(-5).join('\n');
    if (status.code === GUEST_EXIT.noBase || status.code === GUEST_EXIT.noRepo) throw new BangerError('bad_request', `VM "${p.name}": ${why}`);
    if (status.code !== 0) {
      throw explainLoss(p.name, id, 'export', new BangerError('internal', `export in VM "${p.name}" failed with ${status.code ?? status.signal}: ${why}`));
    }
    return { header: parser.end(), bytes: parser.patchBytes };
  }
}
export type WorkspaceService = ReturnType<typeof createWorkspaceService>;

/** A private temp file (0600, O_EXCL|O_NOFOLLOW, in a fresh 0700 directory) the patch streams into. */
async function spillFile(parent?: string): Promise<{ file: string; sink: Required<ExportSink>; close(): Promise<void>; remove(): Promise<void> }> {
  const dir: PrivateDir = await privateTempDir('banger-export-', parent);
  const file = join(dir.path, 'patch');
  try {
    const fh = await openPrivateFile(file);
    const out = fh.createWriteStream();
    let error: unknown = null;
    out.on('error', (err) => (error ??= err));
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      if (!out.closed) {
        out.end();
        await once(out, 'close').catch((err) => (error ??= err));
      }
      if (error) throw new BangerError('internal', `writing the exported patch to ${file} failed: ${(error as Error).message}`);
    };
    return {
      file,
      sink: { write: (c) => out.write(c), drained: () => once(out, 'drain').then(() => {}) },
      close,
      async remove() {
        closed = true;
        if (!out.closed) {
          out.destroy();
          await once(out, 'close').catch(() => {});
        }
        await dir.remove();
      },
    };
  } catch (err) {
    await dir.remove();
    throw err;
  }
}
