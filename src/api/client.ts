/**
 * A client for the daemon's socket, shared by the CLI and the SDK: one connection per call,
 * progress and output delivered through callbacks, the result parsed with the method's schema.
 */
import { connect } from 'node:net';
import type { Readable } from 'node:stream';
import { BangerError } from './errors.js';
import type { MethodName, Methods, ParamsOf, ResultOf } from './methods.js';
import type { ProgressEvent } from './progress.js';
import { API_VERSION, LineDecoder, ServerFrame, encodeFrame } from './wire.js';

export interface CallOpts {
  onProgress?: (e: ProgressEvent) => void;
  onStream?: (stream: 'stdout' | 'stderr', data: Buffer) => void;
  /** Streamed to the daemon as stdin frames (exec). */
  stdin?: Readable;
  signal?: AbortSignal;
}

/** Who is at the other end of a socket, for the messages a failed call gives. */
export interface Peer {
  /** As named in messages: bangerd, bangerd-root. */
  name: string;
  /** The whole message when the socket cannot be reached. */
  unreachable(socketPath: string, err: NodeJS.ErrnoException): string;
  /** The message when the peer hangs up without an answer. */
  closed: string;
}

const BANGERD: Peer = {
  name: 'bangerd',
  unreachable: (socketPath, err) => `cannot reach bangerd at ${socketPath}: ${err.code ?? err.message}`,
  closed: 'bangerd closed the connection before answering; see `banger daemon status` and its log',
};

/**
 * One request over one connection in the shared wire format (bangerd and bangerd-root speak it):
 * progress and output go to callbacks, `parse` turns the result into its type (throwing rejects the call).
 */
export function callOver<R>(socketPath: string, method: string, params: unknown, opts: CallOpts & { timeoutMs?: number }, peer: Peer, parse: (result: unknown) => R): Promise<R> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    const decoder = new LineDecoder();
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      fn();
      sock.destroy();
    };
    const timer = opts.timeoutMs
      ? setTimeout(() => finish(() => reject(new BangerError('unavailable', `${peer.name} at ${socketPath} did not answer ${method} within ${opts.timeoutMs} ms`))), opts.timeoutMs)
      : undefined;
    opts.signal?.addEventListener('abort', () => finish(() => reject(new BangerError('unavailable', 'cancelled'))), { once: true });
    sock.on('error', (err: NodeJS.ErrnoException) =>
      finish(() => reject(new BangerError('unavailable', peer.unreachable(socketPath, err), { cause: err, details: { errno: err.code } }))),
    );
    sock.on('close', () => finish(() => reject(new BangerError('unavailable', peer.closed))));
    sock.on('connect', () => {
      sock.write(encodeFrame({ v: API_VERSION, method, params }));
      if (opts.stdin) {
        opts.stdin.on('data', (chunk: Buffer) => sock.write(encodeFrame({ stdin: Buffer.from(chunk).toString('base64') })));
        opts.stdin.on('end', () => !sock.destroyed && sock.write(encodeFrame({ stdinEnd: true })));
      }
    });
    sock.on('data', (chunk) => {
      for (const line of decoder.push(chunk)) {
        let json: unknown;
        try {
          json = JSON.parse(line);
        } catch {
          continue; // not a frame: never take the caller down
        }
        const frame = ServerFrame.safeParse(json);
        if (!frame.success) continue;
        const f = frame.data;
        if ('progress' in f) opts.onProgress?.(f.progress);
        else if ('stream' in f) opts.onStream?.(f.stream, Buffer.from(f.data, 'base64'));
        else if ('error' in f) finish(() => reject(BangerError.fromBody(f.error)));
        else if ('result' in f) {
          finish(() => {
            try {
              resolve(parse(f.result));
            } catch (err) {
              reject(err);
            }
          });
        }
      }
    });
  });
}

/** Calls one bangerd method; with `schemas`, the result is parsed with the method's schema. */
export async function call<M extends MethodName>(
  socketPath: string,
  method: M,
  params: ParamsOf<M>,
  opts: CallOpts = {},
  schemas?: Methods,
): Promise<ResultOf<M>> {
  const schema = schemas?.[method].result;
  return callOver(socketPath, method, params, opts, BANGERD, (r) => (schema ? schema.parse(r) : r) as ResultOf<M>);
}
