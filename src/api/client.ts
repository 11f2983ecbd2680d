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

export async function call<M extends MethodName>(
  socketPath: string,
  method: M,
  params: ParamsOf<M>,
  opts: CallOpts = {},
  schemas?: Methods,
): Promise<ResultOf<M>> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    const decoder = new LineDecoder();
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      fn();
      sock.destroy();
    };
    opts.signal?.addEventListener('abort', () => finish(() => reject(new BangerError('unavailable', 'cancelled'))), { once: true });
    sock.on('error', (err: NodeJS.ErrnoException) =>
      finish(() =>
        reject(
          new BangerError('unavailable', `cannot reach bangerd at ${socketPath}: ${err.code ?? err.message}`, {
            cause: err,
            details: { errno: err.code },
          }),
        ),
      ),
    );
    sock.on('close', () => finish(() => reject(new BangerError('unavailable', 'bangerd closed the connection before answering; see `banger daemon status` and its log'))));
    sock.on('connect', () => {
      sock.write(encodeFrame({ v: API_VERSION, method, params }));
      if (opts.stdin) {
        opts.stdin.on('data', (chunk: Buffer) => sock.write(encodeFrame({ stdin: Buffer.from(chunk).toString('base64') })));
        opts.stdin.on('end', () => !sock.destroyed && sock.write(encodeFrame({ stdinEnd: true })));
      }
    });
    sock.on('data', (chunk) => {
      for (const line of decoder.push(chunk)) {
        const frame = ServerFrame.safeParse(JSON.parse(line));
        if (!frame.success) continue;
        const f = frame.data;
        if ('progress' in f) opts.onProgress?.(f.progress);
        else if ('stream' in f) opts.onStream?.(f.stream, Buffer.from(f.data, 'base64'));
        else if ('error' in f) finish(() => reject(BangerError.fromBody(f.error)));
        else if ('result' in f) {
          const schema = schemas?.[method].result;
          finish(() => resolve((schema ? schema.parse(f.result) : f.result) as ResultOf<M>));
        }
      }
    });
  });
}
