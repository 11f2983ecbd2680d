/**
 * Calling bangerd-root: one connection per call over the shared wire (api/wire.ts), the result parsed
 * with the method's schema from rootd/api.ts. Errors come back as BangerError with the helper's code;
 * an unreachable helper is `unavailable` naming the socket and how to start it.
 */
import { callOver, type Peer } from '../api/client.js';
import { BangerError } from '../api/errors.js';
import type { JailerHost } from '../hypervisor/firecracker/jailer.js';
import { helperMethods, type HelperMethod, type HelperParams, type HelperResult } from './api.js';

export const HELPER_DOWN_HINT = 'start it with `sudo banger system restart` (or install it with `sudo banger system install`)';

const HELPER: Peer = {
  name: 'bangerd-root',
  unreachable(socketPath, err) {
    const denied = err.code === 'EACCES';
    const why = denied ? "permission denied: only root and the install's owner may use it" : (err.code ?? err.message);
    return `cannot reach bangerd-root at ${socketPath} (${why}); ${denied ? 'run banger as the user `banger system install` set up' : HELPER_DOWN_HINT}`;
  },
  closed: 'bangerd-root closed the connection before answering; see its log (journalctl -u bangerd-root)',
};

export function callHelper<M extends HelperMethod>(socketPath: string, method: M, params: HelperParams<M>, opts: { timeoutMs?: number } = {}): Promise<HelperResult<M>> {
  return callOver(socketPath, method, params, { timeoutMs: opts.timeoutMs ?? 60_000 }, HELPER, (result) => {
    const parsed = helperMethods[method].result.safeParse(result);
    if (!parsed.success) {
      throw new BangerError('internal', `bangerd-root answered ${method} with an unexpected result; the helper and bangerd versions may differ (sudo banger system restart)`);
    }
    return parsed.data as HelperResult<M>;
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
