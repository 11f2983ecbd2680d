/**
 * A client for the daemon's socket, shared by the CLI and the SDK: one connection per call,
 * progress and output delivered through callbacks, the result parsed with the method's schema.
 */
import { connect } from 'node:net';
import type { Readable } from 'node:stream';
import { BangerError } from './errors.js';
import type { MethodName, Methods, ParamsOf, ResultOf } from './methods.js';
import type { ProgressEvent } from './progress.js';
import { API_VERSION, LineDecoder, ServerFrame, WIRE_LIMITS, encodeFrame } from './wire.js';

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
    const decoder = new LineDecoder(WIRE_LIMITS.maxReplyFrameBytes);
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
        const input = opts.stdin;
        // Frames stay under the daemon's cap, and the daemon's pace holds back the source (it pauses reading when the call does not keep up).
        input.on('data', (chunk: Buffer | string) => {
          const bytes = Buffer.from(chunk);
          let ok = true;
          for (let i = 0; i < bytes.length && !sock.destroyed; i += WIRE_LIMITS.stdinChunkBytes) {
            ok = sock.write(encodeFrame({ stdin: bytes.subarray(i, i + WIRE_LIMITS.stdinChunkBytes).toString('base64') }));
          }
          if (!ok && !sock.destroyed) {
            input.pause();
            sock.once('drain', () => input.resume());
          }
        });
        input.on('end', () => !sock.destroyed && sock.write(encodeFrame({ stdinEnd: true })));
      }
    });
    sock.on('data', (chunk: Buffer) => {
      const lines = decoder.push(chunk);
      if (decoder.overflowed) {
        // The frames before it still count; then the call fails.
        const message = `${peer.name} sent a frame longer than ${WIRE_LIMITS.maxReplyFrameBytes} bytes (WIRE_LIMITS.maxReplyFrameBytes); see its log`;
        lines.push(JSON.stringify({ error: { code: 'internal', message } }));
      }
      for (const line of lines) {
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

/** Calls one bangerd method; with `schemas` (api/methods.ts's table, or the method's group from api/lazymethods.ts), the result is parsed with the method's schema. */
export async function call<M extends MethodName>(
  socketPath: string,
  method: M,
  params: ParamsOf<M>,
  opts: CallOpts = {},
  schemas?: Pick<Methods, M>,
): Promise<ResultOf<M>> {
  const schema = schemas?.[method].result;
  return callOver(socketPath, method, params, opts, BANGERD, (r) => (schema ? schema.parse(r) : r) as ResultOf<M>);
}
