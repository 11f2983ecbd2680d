/**
 * E2B sandboxes on banger VMs: a sandbox is a VM (named by its id) plus a row (metadata, envs,
 * expiry, envd token). Create boots the template's image; kill deletes the VM; pause takes a banger
 * snapshot and stops the VM (resume = start, which restores that snapshot: memory and files);
 * fork is banger's fork. The expiry timer kills (or pauses) sandboxes whose timeout passed.
 * Operations on one sandbox run one at a time (a pause racing a kill would leave either half done).
 */
import { BangerError } from '../api/errors.js';
import { noProgress } from '../api/progress.js';
import { VmCreateParams, type Vm } from '../api/vm.js';
import type { GuestSession } from '../guest/access.js';
import type { Logger } from '../host/logger.js';
import type { SnapshotService } from '../snapshots/service.js';
import type { E2bSandboxRow, E2bStore } from '../store/e2b.js';
import type { VmCreateInput, VmService } from '../vms/contracts.js';
import { clampTimeout, dueActions, endAtFor, nextDueInMs } from './expiry.js';
import { newAccessToken, newSandboxId } from './key.js';

/** What this endpoint reports as envd's version: the SDK gates features on it (0.5.7: closeStdin, octet-stream upload). */
export const ENVD_VERSION = '0.5.7';
/** The SDK's default template name; it means banger's default image. */
export const DEFAULT_TEMPLATE = 'base';

export interface CreateRequest {
  templateID: string;
  timeout?: number;
  metadata?: Record<string, string>;
  envVars?: Record<string, string>;
  autoPause?: boolean;
}

export interface SandboxView {
  row: E2bSandboxRow;
  vm: Vm | null;
}

export interface SandboxServiceDeps {
  store: E2bStore;
  vms: Pick<VmService, 'create' | 'delete' | 'start' | 'session' | 'list'>;
  snapshots: Pick<SnapshotService, 'snapshotVm' | 'fork' | 'list' | 'delete'>;
  defaultImage: string;
  log: Logger;
  /** Told when a sandbox's processes are gone (killed, paused, expired). */
  onGone(id: string): void;
  now?: () => Date;
}

export type SandboxService = ReturnType<typeof createSandboxService>;

export function createSandboxService(deps: SandboxServiceDeps) {
  const now = deps.now ?? (() => new Date());
  const queues = new Map<string, Promise<unknown>>();
  /** Runs `fn` after every earlier operation on sandbox `id`. */
  function serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = queues.get(id) ?? Promise.resolve();
    const run = prev.catch(() => {}).then(fn);
    const tail = run.catch(() => {});
    queues.set(id, tail);
    void tail.then(() => {
      if (queues.get(id) === tail) queues.delete(id);
    });
    return run;
  }

  const vmOf = (row: E2bSandboxRow): Vm | null => deps.vms.list().find((v) => v.name === row.vmName) ?? null;

  /** The row of a sandbox that exists (a row whose VM was deleted elsewhere is dropped). */
  function require(id: string): E2bSandboxRow {
    const row = deps.store.get(id);
    if (!row) throw new BangerError('not_found', `sandbox ${id} not found`);
    if (!vmOf(row)) {
      deps.store.delete(id);
      deps.onGone(id);
      throw new BangerError('not_found', `sandbox ${id} not found (its VM ${row.vmName} was deleted)`);
    }
    return row;
  }

  /** The sandbox's pause snapshots and the ones fork took of it (`<id>-<time>`); one still under a fork child stays (conflict). */
  async function removeSnapshots(id: string): Promise<void> {
    for (const s of await deps.snapshots.list().catch(() => [])) {
      if (s.name.startsWith(`${id}-`)) await deps.snapshots.delete(s.name).catch(() => undefined);
    }
  }

  async function kill(id: string): Promise<void> {
    const row = deps.store.get(id);
    if (!row) throw new BangerError('not_found', `sandbox ${id} not found`);
    deps.onGone(id);
    if (vmOf(row)) await deps.vms.delete(row.vmName, noProgress);
    deps.store.delete(id);
    await removeSnapshots(id);
    deps.log.info({ sandbox: id }, 'sandbox killed');
  }

  async function pause(id: string): Promise<void> {
    const row = require(id);
    if (row.state === 'paused') throw new BangerError('conflict', `sandbox ${id} is already paused`);
    deps.onGone(id);
    await deps.snapshots.snapshotVm({ name: row.vmName, snapshot: `${id}-pause-${Date.now().toString(36)}`, stop: true }, noProgress);
    deps.store.put({ ...row, state: 'paused' });
    deps.log.info({ sandbox: id }, 'sandbox paused');
  }

  /** Resumes a paused sandbox (restores its snapshot) and/or sets a new end time. */
  async function resume(id: string, timeoutS: number | undefined): Promise<{ row: E2bSandboxRow; resumed: boolean }> {
    const row = require(id);
    let resumed = false;
    if (row.state === 'paused') {
      await deps.vms.start(row.vmName, true, noProgress);
      resumed = true;
    }
    const next: E2bSandboxRow = { ...row, state: 'running', ...(timeoutS !== undefined || resumed ? { endAt: endAtFor(now(), timeoutS ?? clampTimeout(undefined)) } : {}) };
    deps.store.put(next);
    return { row: next, resumed };
  }

  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  function schedule(): void {
    clearTimeout(timer);
    if (stopped) return;
    const ms = nextDueInMs(deps.store.list(), now());
    if (ms === null) return;
    timer = setTimeout(() => void expire(), Math.min(ms + 50, 60_000));
    timer.unref();
  }
  async function expire(): Promise<void> {
    for (const a of dueActions(deps.store.list(), now())) {
      await serial(a.id, async () => {
        const row = deps.store.get(a.id);
        if (!row || dueActions([row], now()).length === 0) return; // extended meanwhile
        deps.log.info({ sandbox: a.id, action: a.action }, 'sandbox timeout reached');
        if (a.action === 'pause') await pause(a.id);
        else await kill(a.id);
      }).catch((err: Error) => {
        deps.log.warn({ sandbox: a.id, err: err.message }, 'sandbox expiry failed');
        // A sandbox that cannot be paused is killed rather than left running past its timeout.
        if (a.action === 'pause') return serial(a.id, () => kill(a.id)).catch(() => undefined);
      });
    }
    schedule();
  }

  return {
    async create(req: CreateRequest): Promise<E2bSandboxRow> {
      const id = newSandboxId();
      const image = req.templateID === DEFAULT_TEMPLATE ? deps.defaultImage : req.templateID;
      const params = VmCreateParams.parse({ name: id, image, start: true, waitForSsh: true }) as VmCreateInput;
      await deps.vms.create(params, noProgress);
      const t = now();
      const row: E2bSandboxRow = {
        id,
        vmName: id,
        template: req.templateID,
        metadata: req.metadata ?? {},
        envs: req.envVars ?? {},
        accessToken: newAccessToken(),
        startedAt: t.toISOString(),
        endAt: endAtFor(t, clampTimeout(req.timeout)),
        onTimeout: req.autoPause ? 'pause' : 'kill',
        state: 'running',
      };
      deps.store.put(row);
      schedule();
      deps.log.info({ sandbox: id, image }, 'sandbox created');
      return row;
    },
    list(): SandboxView[] {
      const vms = deps.vms.list();
      return deps.store.list().flatMap((row) => {
        const vm = vms.find((v) => v.name === row.vmName) ?? null;
        return vm ? [{ row, vm }] : [];
      });
    },
    get(id: string): SandboxView {
      const row = require(id);
      return { row, vm: vmOf(row) };
    },
    /** The row, if the sandbox exists (envd auth). */
    find: (id: string): E2bSandboxRow | null => deps.store.get(id),
    kill: (id: string) => serial(id, () => kill(id)),
    setTimeout: (id: string, timeoutS: number) =>
      serial(id, async () => {
        const row = require(id);
        deps.store.put({ ...row, endAt: endAtFor(now(), timeoutS) });
        schedule();
      }),
    pause: (id: string) => serial(id, () => pause(id)),
    connect: (id: string, timeoutS: number | undefined) =>
      serial(id, async () => {
        const r = await resume(id, timeoutS);
        schedule();
        return r;
      }),
    fork: (id: string, count: number, timeoutS: number | undefined) =>
      serial(id, async () => {
        const row = require(id);
        if (row.state !== 'running') throw new BangerError('conflict', `sandbox ${id} is paused; connect to it before forking`);
        const base = newSandboxId();
        const { vms } = await deps.snapshots.fork({ source: row.vmName, name: base, count, egress: true }, noProgress);
        const t = now();
        const rows = vms.map((v) => {
          const child: E2bSandboxRow = { ...row, id: v.name, vmName: v.name, accessToken: newAccessToken(), startedAt: t.toISOString(), endAt: endAtFor(t, clampTimeout(timeoutS)), state: 'running' };
          deps.store.put(child);
          return child;
        });
        schedule();
        return rows;
      }),
    /** The guest session of a running sandbox (envd calls). */
    async session(id: string, signal?: AbortSignal): Promise<GuestSession> {
      // The hot path of every envd call: the row only (vms.session says not_found when the VM is gone).
      const row = deps.store.get(id);
      if (!row) throw new BangerError('not_found', `sandbox ${id} not found`);
      if (row.state !== 'running') throw new BangerError('unavailable', `sandbox ${id} is paused; connect to it first`);
      try {
        return (await deps.vms.session(row.vmName, signal)).session;
      } catch (err) {
        if (err instanceof BangerError && err.code === 'not_found') require(id); // drops a row whose VM was deleted
        throw err;
      }
    },
    /** Starts the expiry timer (at daemon start: sandboxes that expired while it was down go now). */
    start(): void {
      stopped = false;
      void expire();
    },
    stop(): void {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
