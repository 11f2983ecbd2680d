/**
 * Calling bangerd-root: one connection per call over the shared wire (api/wire.ts), the result parsed
 * with the method's schema from rootd/api.ts. Errors come back as BangerError with the helper's code;
 * an unreachable helper is `unavailable` naming the socket and how to start it.
 */
import { connect } from 'node:net';
import { BangerError } from '../api/errors.js';
import { API_VERSION, LineDecoder, ServerFrame, encodeFrame } from '../api/wire.js';
import type { JailerHost } from '../hypervisor/firecracker/jailer.js';
import { helperMethods, type HelperMethod, type HelperParams, type HelperResult } from './api.js';

export const HELPER_DOWN_HINT = 'start it with `sudo banger system restart` (or install it with `sudo banger system install`)';

export function callHelper<M extends HelperMethod>(socketPath: string, method: M, params: HelperParams<M>, opts: { timeoutMs?: number } = {}): Promise<HelperResult<M>> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    const decoder = new LineDecoder();
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      fn();
      sock.destroy();
    };
    const timer = setTimeout(() => finish(() => reject(new BangerError('unavailable', `bangerd-root at ${socketPath} did not answer ${method} within ${timeoutMs} ms`))), timeoutMs);
    sock.on('error', (err: NodeJS.ErrnoException) =>
      finish(() => {
        const why = err.code === 'EACCES' ? 'permission denied: only root and the install\'s owner may use it' : (err.code ?? err.message);
        reject(new BangerError('unavailable', `cannot reach bangerd-root at ${socketPath} (${why}); ${err.code === 'EACCES' ? 'run banger as the user `banger system install` set up' : HELPER_DOWN_HINT}`, { cause: err, details: { errno: err.code } }));
      }),
    );
    sock.on('close', () => finish(() => reject(new BangerError('unavailable', `bangerd-root closed the connection before answering ${method}; see its log (journalctl -u bangerd-root)`))));
    sock.on('connect', () => sock.write(encodeFrame({ v: API_VERSION, method, params })));
    sock.on('data', (chunk) => {
      for (const line of decoder.push(chunk)) {
        let frame;
        try {
          frame = ServerFrame.safeParse(JSON.parse(line));
        } catch {
          continue;
        }
        if (!frame.success) continue;
        const f = frame.data;
        if ('error' in f) finish(() => reject(BangerError.fromBody(f.error)));
        else if ('result' in f) {
          const parsed = helperMethods[method].result.safeParse(f.result);
          finish(() =>
            parsed.success
              ? resolve(parsed.data as HelperResult<M>)
              : reject(new BangerError('internal', `bangerd-root answered ${method} with an unexpected result; the helper and bangerd versions may differ (sudo banger system restart)`)),
          );
        }
      }
    });
  });
}

/** The Firecracker driver's JailerHost through bangerd-root (the jailer must start as root). */
export function helperJailerHost(socketPath: string): JailerHost {
  return {
    spawn: (req) => callHelper(socketPath, 'jailer.spawn', req),
    async clean(req) {
      await callHelper(socketPath, 'jailer.clean', req);
    },
  };
}
