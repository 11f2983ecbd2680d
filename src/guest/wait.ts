/**
 * Waiting for a booting guest's sshd: retry connect with a short pause until it answers.
 * Under user-mode networking the forwarded port accepts TCP before the guest listens, so early
 * attempts fail fast (reset) or stall in the handshake; each attempt is therefore bounded too.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BangerError } from '../api/errors.js';
import { vmNameOf } from './knownhosts.js';
import type { GuestConnection } from './connection.js';
import { connect, type ConnectOptions } from './ssh.js';

export interface WaitForSshOptions extends Omit<ConnectOptions, 'readyTimeoutMs'> {
  /** Give up after this long in total. */
  timeoutMs: number;
  /** Pause between attempts. @default 250 */
  intervalMs?: number;
  /** Bound on one attempt (TCP + handshake + auth). @default 10000 */
  attemptTimeoutMs?: number;
  /** Bound on the wait for sshd's banner in one attempt (see bannerBound). @default 3000 */
  bannerTimeoutMs?: number;
  /** Consecutive key rejections before giving up early: the guest is up but will not take banger's key. @default 3 */
  maxAuthFailures?: number;
  /** Called after each failed attempt (progress, logs). */
  onAttempt?: (attempt: number, err: BangerError) => void;
}

/**
 * The banner bound of the next attempt, or null for none (the whole attempt bound applies). A SYN
 * sent while the guest could not take it (paused mid-restore, network not up yet) is never answered
 * and its attempt stalls silently to the end of its bound: measured, every fork's first attempt lost
 * the whole 10 s. So attempts wait `banner` ms for sshd's first bytes; every fourth consecutive
 * stall gets no banner bound, so a guest too loaded to greet within `banner` still gets in. Pure.
 */
export function bannerBound(consecutiveStalls: number, banner: number, attempt: number): number | null {
  if (banner >= attempt) return null;
  return consecutiveStalls % 4 === 3 ? null : banner;
}

/**
 * Resolves with the first connection that authenticates. Fails at once on a host key mismatch
 * (BangerError 'conflict') and on cancellation; otherwise a timeout is BangerError('unavailable')
 * carrying the last error — the caller adds advice (`banger vm logs NAME`).
 */
export async function waitForSsh(opts: WaitForSshOptions): Promise<GuestConnection> {
  const vm = vmNameOf(opts.alias);
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  const interval = opts.intervalMs ?? 250;
  const maxAuthFailures = opts.maxAuthFailures ?? 3;
  let attempts = 0;
  let authFailures = 0;
  let bannerStalls = 0;
  let lastError: BangerError | undefined;
  for (;;) {
    if (opts.signal?.aborted) throw cancelled(vm, opts.signal);
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    attempts++;
    try {
      const ready = Math.min(remaining, opts.attemptTimeoutMs ?? 10_000);
      const banner = bannerBound(bannerStalls, opts.bannerTimeoutMs ?? 3_000, ready);
      return await connect({ ...opts, readyTimeoutMs: ready, ...(banner !== null ? { bannerTimeoutMs: banner } : {}) });
    } catch (err) {
      const e = err instanceof BangerError ? err : new BangerError('unavailable', String(err), { cause: err });
      if (opts.signal?.aborted) throw cancelled(vm, opts.signal);
      if (e.code === 'conflict' || e.code === 'bad_request') throw e;
      authFailures = e.details?.stage === 'auth' ? authFailures + 1 : 0;
      bannerStalls = e.details?.stage === 'banner' ? bannerStalls + 1 : 0;
      if (authFailures >= maxAuthFailures) throw e;
      lastError = e;
      opts.onAttempt?.(attempts, e);
    }
    const pause = Math.min(interval, deadline - Date.now());
    if (pause > 0) await sleep(pause, undefined, { signal: opts.signal }).catch(() => {});
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  throw new BangerError(
    'unavailable',
    `SSH in VM "${vm}" (${opts.host}:${opts.port}) did not answer within ${seconds}s after ${attempts} attempts` +
      (lastError ? ` (last error: ${lastError.message})` : ''),
    { cause: lastError, details: { vm, address: `${opts.host}:${opts.port}`, attempts, timeoutMs: opts.timeoutMs } },
  );
}

function cancelled(vm: string, signal: AbortSignal): BangerError {
  return new BangerError('unavailable', `waiting for SSH in VM "${vm}" was cancelled`, { cause: signal.reason });
}
