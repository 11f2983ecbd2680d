/**
 * Asks a socket whether it answers: one request over the shared wire (api/client.ts callOver), the
 * result or a one-line reason back, bounded by a timeout, never a throw. Used to wait for the two units
 * after install and by status/doctor; method names are free-form because `helper.status` belongs to
 * bangerd-root's table, not bangerd's.
 */
import { callOver, type Peer } from '../api/client.js';
import { BangerError } from '../api/errors.js';
import { DaemonStatus } from '../api/daemon.js';
import { HelperStatus } from '../rootd/api.js';

export type ProbeResult = { ok: true; result: unknown } | { ok: false; error: string };
export type Probe = (socket: string, method: string, timeoutMs?: number) => Promise<ProbeResult>;

const PROBED: Peer = {
  name: 'the socket',
  unreachable: (_socket, err) => err.code ?? err.message,
  closed: 'closed without answering',
};

export const probeSocket: Probe = (socket, method, timeoutMs = 2000) =>
  callOver(socket, method, {}, { timeoutMs }, PROBED, (result) => result).then(
    (result): ProbeResult => ({ ok: true, result }),
    (err: Error): ProbeResult => ({ ok: false, error: err instanceof BangerError && err.code !== 'unavailable' ? `${err.code}: ${err.message}` : err.message }),
  );

/** The part of bangerd-root's `helper.status` answer install and doctor rely on (its own schema may carry more). */
export const HelperStatusSeen = HelperStatus.pick({ version: true, installId: true, ownerUid: true }).passthrough();
/** The part of bangerd's `daemon.status` answer install, status and uninstall read (tolerant of newer fields). */
export const DaemonStatusSeen = DaemonStatus.pick({ pid: true, version: true, vmsRunning: true }).passthrough();
