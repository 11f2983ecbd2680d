/**
 * The daemon's unix socket: frames in, frames out. It knows nothing about VMs; it hands each
 * request to dispatch and turns the outcome into frames.
 */
import { chmodSync, chownSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { toBangerError } from '../api/errors.js';
import type { Progress } from '../api/progress.js';
import { ClientFrame, LineDecoder, RequestFrame, encodeFrame } from '../api/wire.js';
import type { Logger } from '../host/logger.js';

export interface CallContext {
  progress: Progress;
  /** Aborted when the client disconnects. */
  signal: AbortSignal;
  /** Raw stdin bytes from the client (exec). Ends when the client sends stdinEnd or disconnects. */
  stdin: PassThrough;
  write(stream: 'stdout' | 'stderr', data: Buffer): void;
}

export type Dispatch = (method: string, params: unknown, ctx: CallContext) => Promise<unknown>;

export interface ServerOptions {
  socketPath: string;
  dispatch: Dispatch;
  log: Logger;
  /** Mode of the socket's directory when it has to be created. @default 0o700 */
  dirMode?: number;
  /** chown the socket to this user (bangerd-root: the owner may connect, mode stays 0600). */
  socketOwner?: { uid: number; gid: number };
  /** Checked before a connection's first byte is read: null admits it, a string refuses it with that message. */
  admit?: (sock: Socket) => string | null;
}

export function startServer(opts: ServerOptions): Promise<Server> {
  const { socketPath, dispatch, log } = opts;
  mkdirSync(socketPath.slice(0, socketPath.lastIndexOf('/')), { recursive: true, mode: opts.dirMode ?? 0o700 });
  rmSync(socketPath, { force: true });
  const server = createServer((sock) => {
    const refused = opts.admit?.(sock) ?? null;
    if (refused !== null) {
      sock.on('error', () => {});
      sock.end(encodeFrame({ error: { code: 'unavailable', message: refused } }));
      return;
    }
    handleConnection(sock, dispatch, log);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // umask-independent: tighten right after bind, before anything can connect meaningfully.
    server.listen(socketPath, () => {
      try {
        chmodSync(socketPath, 0o600);
        if (opts.socketOwner) chownSync(socketPath, opts.socketOwner.uid, opts.socketOwner.gid);
      } catch (err) {
        server.close();
        reject(err);
        return;
      }
      resolve(server);
    });
  });
}

function handleConnection(sock: Socket, dispatch: Dispatch, log: Logger): void {
  const decoder = new LineDecoder();
  const abort = new AbortController();
  const stdin = new PassThrough();
  let started = false;
  let finished = false;
  const t0 = Date.now();
  const send = (frame: unknown) => {
    if (!sock.destroyed) sock.write(encodeFrame(frame));
  };
  sock.on('close', () => {
    if (!finished) abort.abort();
    stdin.end();
  });
  sock.on('error', () => {});
  sock.on('data', (chunk) => {
    for (const line of decoder.push(chunk)) {
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch {
        send({ error: { code: 'bad_request', message: 'malformed frame: not JSON' } });
        sock.end();
        return;
      }
      if (!started) {
        started = true;
        const req = RequestFrame.safeParse(json);
        if (!req.success) {
          send({ error: { code: 'bad_request', message: `malformed request: ${req.error.issues[0]?.message}; upgrade the client to match the daemon` } });
          finished = true;
          sock.end();
          return;
        }
        const ctx: CallContext = {
          progress: (stage, message) => send({ progress: { stage, ...(message ? { message } : {}), elapsedMs: Date.now() - t0 } }),
          signal: abort.signal,
          stdin,
          write: (stream, data) => send({ stream, data: data.toString('base64') }),
        };
        const mlog = log.child({ method: req.data.method });
        mlog.debug('request');
        dispatch(req.data.method, req.data.params, ctx)
          .then((result) => send({ result: result ?? null }))
          .catch((err) => {
            const be = toBangerError(err);
            if (be.code === 'internal') mlog.error({ err }, 'request failed');
            else mlog.info({ code: be.code, msg: be.message }, 'request refused');
            send({ error: be.toBody() });
          })
          .finally(() => {
            finished = true;
            sock.end();
          });
      } else {
        const f = ClientFrame.safeParse(json);
        if (!f.success) continue;
        if ('stdin' in f.data) stdin.write(Buffer.from(f.data.stdin, 'base64'));
        else stdin.end();
      }
    }
  });
}
