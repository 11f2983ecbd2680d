/**
 * envd's `process.Process` Connect service on the process table: Start and Connect stream
 * start/data/end events, List, SendInput/StreamInput, CloseStdin, SendSignal, Update (PTY size).
 * The sandbox comes from the request's `E2b-Sandbox-Id` header (checked by the mount).
 */
import type { ConnectRouter, HandlerContext } from '@connectrpc/connect';
import { BangerError } from '../api/errors.js';
import type { GuestSession } from '../guest/access.js';
import { toConnectError, withConnectErrors as wrap } from './errors.js';
import { Process, Signal, type ProcessEvent, type ProcessInput, type ProcessSelector } from './gen/process_pb.js';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ProcessEventSchema } from './gen/process_pb.js';
import type { Proc, ProcEvent, ProcessTable } from './processes.js';
import { resolveGuestPath, userFromAuthorization } from './user.js';

export interface EnvdContext {
  sandboxOf(ctx: HandlerContext): string;
  session(sandbox: string, signal: AbortSignal): Promise<GuestSession>;
  /** Environment the sandbox was created with (every process gets it). */
  envsOf(sandbox: string): Record<string, string>;
}

type EventInit = MessageInitShape<typeof ProcessEventSchema>;

function toEvent(e: ProcEvent): EventInit {
  if (e.kind === 'end') return { event: { case: 'end', value: { exitCode: e.exitCode, exited: e.exited, status: e.status, ...(e.error !== undefined ? { error: e.error } : {}) } } };
  return { event: { case: 'data', value: { output: { case: e.kind, value: e.data } } } };
}

function selector(sel: ProcessSelector | undefined): { pid?: number; tag?: string } {
  if (sel?.selector.case === 'pid') return { pid: sel.selector.value };
  if (sel?.selector.case === 'tag') return { tag: sel.selector.value };
  throw new BangerError('bad_request', 'a process selector (pid or tag) is required');
}

function writeInput(p: Proc, input: ProcessInput | undefined): void {
  const data = input?.input.case === 'stdin' || input?.input.case === 'pty' ? input.input.value : undefined;
  if (!data) return;
  if (!p.handle.stdin.writable) throw new BangerError('conflict', `process ${p.pid} has no open stdin (start it with stdin: true)`);
  p.handle.stdin.write(Buffer.from(data));
}

async function* stream(procs: ProcessTable, p: Proc, ctx: HandlerContext): AsyncGenerator<{ event: EventInit }> {
  const events = procs.subscribe(p, ctx.signal);
  yield { event: { event: { case: 'start', value: { pid: p.pid } } } };
  for await (const e of events) yield { event: toEvent(e) };
}

export function registerProcessService(router: ConnectRouter, procs: ProcessTable, env: EnvdContext): void {
  router.service(Process, {
    async *start(req, ctx) {
      let p: Proc;
      try {
        const sandbox = env.sandboxOf(ctx);
        const user = userFromAuthorization(ctx.requestHeader.get('authorization'));
        const cfg = req.process;
        if (!cfg?.cmd) throw new BangerError('bad_request', 'process.cmd is required');
        const session = await env.session(sandbox, ctx.signal);
        p = procs.start(sandbox, session, {
          config: { cmd: cfg.cmd, args: cfg.args, envs: { ...env.envsOf(sandbox), ...cfg.envs }, ...(cfg.cwd ? { cwd: resolveGuestPath(cfg.cwd, user) } : {}) },
          user,
          ...(req.tag !== undefined ? { tag: req.tag } : {}),
          stdin: req.stdin ?? true,
          ...(req.pty ? { pty: { rows: req.pty.size?.rows ?? 24, cols: req.pty.size?.cols ?? 80 } } : {}),
        });
      } catch (err) {
        throw toConnectError(err);
      }
      try {
        yield* stream(procs, p, ctx);
      } catch (err) {
        throw toConnectError(err);
      }
    },
    async *connect(req, ctx) {
      let p: Proc;
      try {
        p = procs.get(env.sandboxOf(ctx), selector(req.process));
      } catch (err) {
        throw toConnectError(err);
      }
      yield* stream(procs, p, ctx);
    },
    list: wrap(async (_req, ctx: HandlerContext) => ({
      processes: procs.list(env.sandboxOf(ctx)).map((p) => ({
        pid: p.pid,
        ...(p.tag !== undefined ? { tag: p.tag } : {}),
        config: { cmd: p.config.cmd, args: p.config.args, envs: p.config.envs, ...(p.config.cwd ? { cwd: p.config.cwd } : {}) },
      })),
    })),
    sendInput: wrap(async (req, ctx: HandlerContext) => {
      writeInput(procs.get(env.sandboxOf(ctx), selector(req.process)), req.input);
      return {};
    }),
    streamInput: wrap(async (reqs, ctx: HandlerContext) => {
      let p: Proc | undefined;
      for await (const r of reqs) {
        if (r.event.case === 'start') p = procs.get(env.sandboxOf(ctx), selector(r.event.value.process));
        else if (r.event.case === 'data') {
          if (!p) throw new BangerError('bad_request', 'StreamInput: send the start event (the process) first');
          writeInput(p, r.event.value.input);
        }
      }
      return {};
    }),
    closeStdin: wrap(async (req, ctx: HandlerContext) => {
      const p = procs.get(env.sandboxOf(ctx), selector(req.process));
      if (p.pty) throw new BangerError('bad_request', 'a PTY has no stdin to close; send Ctrl-D (0x04) instead');
      p.handle.stdin.end();
      return {};
    }),
    sendSignal: wrap(async (req, ctx: HandlerContext) => {
      const p = procs.get(env.sandboxOf(ctx), selector(req.process));
      p.handle.kill(req.signal === Signal.SIGTERM ? 'SIGTERM' : 'SIGKILL');
      return {};
    }),
    update: wrap(async (req, ctx: HandlerContext) => {
      const p = procs.get(env.sandboxOf(ctx), selector(req.process));
      if (req.pty?.size) p.handle.resize(req.pty.size.rows, req.pty.size.cols);
      return {};
    }),
  });
}
export type { ProcessEvent };
