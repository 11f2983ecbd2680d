/**
 * The SDK's one door to bangerd: a typed call per API method, with banger's error codes turned
 * into classes callers can branch on. Everything else in sdk/ is built on `api`.
 */
import type { Readable } from 'node:stream';
import { call } from '../api/client.js';
import { BangerError } from '../api/errors.js';
import { methods, type MethodName, type ParamsOf, type ResultOf } from '../api/methods.js';
import type { ProgressEvent } from '../api/progress.js';
import { daemonSocketPath } from '../api/socket.js';

export class NotFoundError extends BangerError {}
export class ConflictError extends BangerError {}

const ERROR_CLASSES: Partial<Record<BangerError['code'], typeof BangerError>> = { not_found: NotFoundError, conflict: ConflictError };

export interface ConnectionOpts {
  /** The daemon socket. @default `$XDG_RUNTIME_DIR/banger/bangerd.sock` (api/socket.ts daemonSocketPath) */
  socketPath?: string;
  /** Aborts the call. */
  signal?: AbortSignal;
  onProgress?: (e: ProgressEvent) => void;
}

export interface CallExtras {
  stdin?: Readable;
  onStream?: (s: 'stdout' | 'stderr', d: Buffer) => void;
}

export async function api<M extends MethodName>(method: M, params: ParamsOf<M>, opts: ConnectionOpts & CallExtras = {}): Promise<ResultOf<M>> {
  try {
    return await call(opts.socketPath ?? daemonSocketPath(), method, params, opts, methods);
  } catch (err) {
    if (err instanceof BangerError && ERROR_CLASSES[err.code]) {
      const Cls = ERROR_CLASSES[err.code]!;
      throw new Cls(err.code, err.message, { details: err.details, cause: err });
    }
    throw err;
  }
}
