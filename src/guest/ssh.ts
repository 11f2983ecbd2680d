/**
 * Connecting to a guest over SSH (ssh2, pure JS): TCP connect, handshake, host-key check against
 * banger's known_hosts before authentication, then key auth. Failures name the stage (auth, timeout,
 * socket, handshake) so callers can branch. The connected GuestConnection is sshconn.ts; its types are
 * connection.ts.
 */
import { connect as tcpConnect } from 'node:net';
import ssh2 from 'ssh2';
import { BangerError } from '../api/errors.js';
import type { GuestConnection, SshTarget } from './connection.js';
import { hostKeyFromBlob, vmNameOf } from './knownhosts.js';
import type { KnownHostsStore } from './knownhostsstore.js';
import { SshConnection } from './sshconn.js';

const { Client } = ssh2;

/** sshd's MaxSessions defaults to 10; stay under it so an interactive `vm ssh` channel still fits. */
export const DEFAULT_MAX_CHANNELS = 8;

export interface ConnectOptions extends SshTarget {
  /** @default 'root' */
  username?: string;
  /** OpenSSH private key text. */
  privateKey: string;
  knownHosts: KnownHostsStore;
  /** Time allowed for TCP connect + handshake + auth. @default 20000 */
  readyTimeoutMs?: number;
  /**
   * Time allowed until the server's first bytes (its SSH banner); unset: only readyTimeoutMs. A
   * forwarded port accepts at once, so a connection whose SYN the guest never saw (sent while it
   * was paused or booting) stalls silently: this ends it early (stage `banner`).
   */
  bannerTimeoutMs?: number;
  /** Keepalive probe interval; three unanswered probes drop the connection. @default 10000 */
  keepaliveIntervalMs?: number;
  /** Concurrent channels before exec calls queue. @default DEFAULT_MAX_CHANNELS */
  maxChannels?: number;
  signal?: AbortSignal;
}

/** Opens and authenticates a connection, checking the host key against known_hosts first. */
export function connect(opts: ConnectOptions): Promise<GuestConnection> {
  const vm = vmNameOf(opts.alias);
  const where = `${opts.host}:${opts.port}`;
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(aborted(opts.signal, vm));
      return;
    }
    const client = new Client();
    let settled = false;
    let verifyError: Error | undefined;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      client.end();
      reject(err);
    };
    const onAbort = () => fail(aborted(opts.signal!, vm));
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    client.on('ready', () => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      // Small request/reply packets (channel open, exec, exit-status): Nagle plus delayed ACKs cost ~50 ms each exec.
      client.setNoDelay(true);
      resolve(new SshConnection(client, { host: opts.host, port: opts.port, alias: opts.alias }, opts.maxChannels ?? DEFAULT_MAX_CHANNELS));
    });
    let sock: ReturnType<typeof tcpConnect> | undefined;
    if (opts.bannerTimeoutMs !== undefined) {
      sock = tcpConnect({ host: opts.host, port: opts.port });
      const ms = opts.bannerTimeoutMs;
      const timer = setTimeout(() => {
        fail(connectError(vm, where, Object.assign(new Error(`no SSH banner within ${ms} ms`), { level: 'client-banner' })));
        sock?.destroy();
      }, ms);
      // A second listener beside ssh2's own: it sees the same bytes and only notes that some came.
      sock.once('data', () => clearTimeout(timer));
      sock.once('close', () => clearTimeout(timer));
    }
    client.on('error', (err: Error & { level?: string }) => fail(verifyError ?? connectError(vm, where, err)));
    client.on('close', () => fail(verifyError ?? connectError(vm, where, new Error('connection closed during the handshake'))));
    client.connect({
      host: opts.host,
      port: opts.port,
      ...(sock ? { sock } : {}),
      username: opts.username ?? 'root',
      privateKey: opts.privateKey,
      readyTimeout: opts.readyTimeoutMs ?? 20_000,
      keepaliveInterval: opts.keepaliveIntervalMs ?? 10_000,
      keepaliveCountMax: 3,
      hostVerifier: (blob: Buffer, verify: (valid: boolean) => void) => {
        let presented: { keyType: string; key: string };
        try {
          presented = hostKeyFromBlob(blob);
        } catch (err) {
          verifyError = err as Error;
          verify(false);
          return;
        }
        opts.knownHosts.verify(opts.alias, presented.keyType, presented.key).then(
          () => verify(true),
          (err: Error) => {
            verifyError = err;
            verify(false);
          },
        );
      },
    });
  });
}

function aborted(signal: AbortSignal, vm: string): BangerError {
  return new BangerError('unavailable', `connecting to VM "${vm}" over SSH was cancelled`, { cause: signal.reason });
}

/** ssh2's error levels (and banger's own `client-banner`) → the stage callers branch on; anything else is `handshake`. */
const STAGE_OF_LEVEL = new Map([
  ['client-authentication', 'auth'],
  ['client-timeout', 'timeout'],
  ['client-banner', 'banner'],
  ['client-socket', 'socket'],
]);

/** Maps ssh2's error levels to a stage callers can branch on (wait.ts stops retrying on `auth`). */
function connectError(vm: string, where: string, err: Error & { level?: string }): BangerError {
  const stage = STAGE_OF_LEVEL.get(err.level ?? '') ?? 'handshake';
  const why = stage === 'auth' ? `the guest rejected banger's SSH key (${err.message})` : err.message;
  return new BangerError('unavailable', `cannot connect to VM "${vm}" over SSH at ${where}: ${why}`, {
    cause: err,
    details: { vm, address: where, stage },
  });
}
