/**
 * The processes started through the E2B endpoint, per sandbox: each is an exec on the sandbox's
 * pooled SSH session, kept by the daemon (not by the request), so a background process keeps
 * running after its client disconnects and another client can Connect to it by pid or tag.
 * Output goes to whoever is subscribed at the time (bounded per subscriber); nothing is replayed.
 * Pids are the endpoint's own numbers (the guest pid of an SSH exec is not known without a round trip).
 */
import { BangerError } from '../api/errors.js';
import type { GuestSession } from '../guest/access.js';
import type { ExecHandle } from '../guest/connection.js';
import { inDirectoryRaw, shellCommand } from '../guest/quote.js';
import { EventQueue } from './queue.js';

export interface ProcessConfig {
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd?: string;
}

export type ProcEvent =
  | { kind: 'stdout' | 'stderr' | 'pty'; data: Buffer }
  | { kind: 'end'; exitCode: number; exited: boolean; status: string; error?: string };

export interface Proc {
  pid: number;
  tag?: string;
  config: ProcessConfig;
  pty: boolean;
  handle: ExecHandle;
  end: ProcEvent | null;
  subscribers: Set<EventQueue<ProcEvent>>;
}

/** Behind by more than this, a subscriber is cut off. */
const SUBSCRIBER_MAX_BYTES = 16 * 1024 * 1024;

/** The guest command line (pure): argv quoted, run as `user` unless root, in `cwd`. */
export function processCommandLine(cfg: ProcessConfig, user: string): string {
  const argv = [cfg.cmd, ...cfg.args];
  const line = user === 'root' ? shellCommand(argv) : shellCommand(['runuser', '-u', user, '--', ...argv]);
  return cfg.cwd ? inDirectoryRaw(cfg.cwd, line) : line;
}

/** The E2B EndEvent for a guest exit status (pure). */
export function endEventFor(code: number | null, signal?: string): Extract<ProcEvent, { kind: 'end' }> {
  if (code !== null) return { kind: 'end', exitCode: code, exited: true, status: `exit status ${code}`, ...(code !== 0 ? { error: `exit status ${code}` } : {}) };
  const name = (signal ?? 'KILL').replace(/^SIG/, '').toLowerCase();
  const status = `signal: ${name === 'kill' ? 'killed' : name === 'term' ? 'terminated' : name}`;
  return { kind: 'end', exitCode: -1, exited: false, status, error: status };
}

const sizeOf = (e: ProcEvent): number => ('data' in e ? e.data.length : 64);

export function createProcessTable() {
  const bySandbox = new Map<string, Map<number, Proc>>();
  let nextPid = 1000;

  const table = (sandbox: string): Map<number, Proc> => {
    let t = bySandbox.get(sandbox);
    if (!t) bySandbox.set(sandbox, (t = new Map()));
    return t;
  };

  function emit(p: Proc, e: ProcEvent): void {
    for (const s of p.subscribers) s.push(e);
  }

  return {
    start(sandbox: string, session: GuestSession, req: { config: ProcessConfig; user: string; tag?: string; stdin: boolean; pty?: { rows: number; cols: number } }): Proc {
      if (req.tag !== undefined && [...table(sandbox).values()].some((p) => p.tag === req.tag && !p.end)) {
        throw new BangerError('already_exists', `a process tagged ${JSON.stringify(req.tag)} is already running`);
      }
      const pid = nextPid++;
      const handle = session.exec(processCommandLine(req.config, req.user), {
        env: req.config.envs,
        ...(req.pty ? { pty: { rows: req.pty.rows || 24, cols: req.pty.cols || 80 } } : {}),
        ...(req.stdin || req.pty ? { stdin: 'pipe' as const } : {}),
      });
      const p: Proc = { pid, ...(req.tag !== undefined ? { tag: req.tag } : {}), config: req.config, pty: !!req.pty, handle, end: null, subscribers: new Set() };
      handle.stdout.on('data', (d: Buffer) => emit(p, { kind: p.pty ? 'pty' : 'stdout', data: d }));
      handle.stderr.on('data', (d: Buffer) => emit(p, { kind: 'stderr', data: d }));
      handle.stdin.on('error', () => {});
      const finish = (e: Extract<ProcEvent, { kind: 'end' }>) => {
        p.end = e;
        emit(p, e);
        for (const s of p.subscribers) s.close();
        p.subscribers.clear();
        table(sandbox).delete(pid);
      };
      handle.exit.then(
        // Let output already read be emitted before the end event.
        (st) => setImmediate(() => finish(endEventFor(st.code, st.signal))),
        (err: Error) => finish({ kind: 'end', exitCode: -1, exited: false, status: 'lost', error: err.message }),
      );
      table(sandbox).set(pid, p);
      return p;
    },
    /** A running process by pid or tag; not_found otherwise. */
    get(sandbox: string, sel: { pid?: number; tag?: string }): Proc {
      const procs = [...table(sandbox).values()];
      const p = sel.pid !== undefined ? procs.find((x) => x.pid === sel.pid) : procs.find((x) => x.tag === sel.tag);
      if (!p) throw new BangerError('not_found', `process ${sel.pid ?? JSON.stringify(sel.tag)} not found`);
      return p;
    },
    list: (sandbox: string): Proc[] => [...table(sandbox).values()],
    /** A stream of the process's events from now on; ends after its end event. */
    subscribe(p: Proc, signal: AbortSignal): EventQueue<ProcEvent> {
      const q = new EventQueue<ProcEvent>(SUBSCRIBER_MAX_BYTES, sizeOf);
      if (p.end) {
        q.push(p.end);
        q.close();
        return q;
      }
      p.subscribers.add(q);
      signal.addEventListener('abort', () => {
        p.subscribers.delete(q);
        q.close();
      }, { once: true });
      return q;
    },
    /** The sandbox went away (killed, paused): its processes' streams end and are forgotten (a paused guest keeps them; its SSH channels do not survive). */
    drop(sandbox: string): void {
      const t = bySandbox.get(sandbox);
      if (!t) return;
      bySandbox.delete(sandbox);
      for (const p of t.values()) {
        for (const s of p.subscribers) s.close(new BangerError('unavailable', 'the sandbox was stopped'));
        p.subscribers.clear();
      }
    },
  };
}
export type ProcessTable = ReturnType<typeof createProcessTable>;
