/**
 * Streams a bundle into the guest: host `tar` processes write one concatenated tar, which the
 * guest's import script (scripts.ts) extracts. The bytes go over the VM's bulk channel when it has
 * one (guest/bulk.ts: a virtio-serial port, no encryption, ~3x SSH's throughput under TCG), else
 * into the exec channel's stdin on the pooled SSH connection; the command itself always runs over
 * SSH and its first output line says which way it reads. The end marker is sent only after every
 * host tar exited 0, so a failed host side never leaves a workspace behind in the guest.
 */
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { BangerError, conflict } from '../api/errors.js';
import { formatBytes } from '../api/names.js';
import { noProgress, type Progress } from '../api/progress.js';
import type { GuestSession } from '../guest/access.js';
import { BulkFramer, type BulkChannels } from '../guest/bulk.js';
import { newBulkToken } from '../guest/bulkframe.js';
import { BULK_EXIT } from '../guest/bulkscript.js';
import type { ExecHandle } from '../guest/connection.js';
import { spawnProcess, type ProcessHandle } from '../host/exec.js';
import type { Logger } from '../host/logger.js';
import type { Bundle } from './bundle.js';
import { GUEST_EXIT, importCommand } from './scripts.js';
import { endMarkerTar, tarInvocations } from './stream.js';

export interface ImportOptions {
  guestPath: string;
  signal?: AbortSignal;
  progress?: Progress;
  /** VM name, for messages. */
  vm: string;
  /** VM id: the bulk channel's lock. */
  vmId?: string;
  /** The VM's bulk socket (handles.bulkSocket); absent: SSH. */
  bulkSocket?: unknown;
}

/** Copies a bundle into the guest. The workspace service's test seam: tests pass a stand-in. */
export type Importer = (session: GuestSession, bundle: Bundle, opts: ImportOptions) => Promise<void>;

/** How the last import went (tests and benches read it from the log; the service logs it). */
export type Transport = 'bulk' | 'ssh';

const STDERR_LIMIT = 64 * 1024;

/** The importer: over the bulk channel when the VM has one, else (or when the guest cannot use it) SSH. */
export function createImporter(deps: { bulk: BulkChannels | null; log?: Logger }): Importer {
  return async (session, bundle, opts) => {
    const progress = opts.progress ?? noProgress;
    if (!deps.bulk || opts.bulkSocket === undefined || !opts.vmId) {
      deps.log?.debug({ vm: opts.vm, transport: 'ssh' }, 'workspace copy over SSH: the VM has no bulk channel');
      await copyOnce(session, bundle, opts, null);
      return;
    }
    const bulk = deps.bulk;
    const fellBack = await bulk.with(opts.vmId, async () => {
      const why = bulk.check(opts.bulkSocket);
      if (why !== null) {
        deps.log?.debug({ vm: opts.vm, transport: 'ssh', why }, 'workspace copy over SSH');
        progress('copy', `over SSH (${why})`);
        return false;
      }
      const how = await copyOnce(session, bundle, opts, { channels: bulk, socketPath: opts.bulkSocket as string });
      if (how === 'unavailable') {
        deps.log?.info({ vm: opts.vm, transport: 'ssh' }, 'the guest could not read the bulk channel; copying over SSH');
        progress('copy', 'over SSH (the guest could not read the bulk channel)');
        return true;
      }
      deps.log?.debug({ vm: opts.vm, transport: how }, `workspace copied over ${how === 'bulk' ? 'the bulk channel' : 'SSH'}`);
      return null;
    });
    if (fellBack !== null) await copyOnce(session, bundle, opts, null);
  };
}

/** SSH only (tests, and drivers without a bulk channel). */
export const streamBundle: Importer = (session, bundle, opts) => copyOnce(session, bundle, opts, null).then(() => undefined);


/**
 * One attempt. With a bulk socket: the guest is asked to read the channel and says (first output
 * line) whether it does; `unavailable` means it found no usable port and nothing was extracted.
 */
async function copyOnce(
  session: GuestSession,
  bundle: Bundle,
  opts: ImportOptions,
  bulk: { channels: BulkChannels; socketPath: string } | null,
): Promise<Transport | 'unavailable'> {
  const progress = opts.progress ?? noProgress;
  const token = bulk ? newBulkToken() : undefined;
  let socket: Socket | null = null;
  let unavailable = false;
  const h = session.exec(importCommand(opts.guestPath, { checkout: bundle.checkout, bulkToken: token }), { stdin: 'pipe' });
  const guestErr = tail(h.stderr);
  h.stdin.on('error', () => {});
  const transport = firstLine(h.stdout);
  let current: ProcessHandle | null = null;
  let stopped = false;
  let hostErr = '';
  let sent = 0;
  let lastReport = Date.now();
  const total = bundle.bytes + bundle.packBytes;

  const onAbort = () => {
    h.kill('KILL');
    current?.kill('SIGKILL');
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  // Host side: each tar in turn into the sink, then the marker (only if all succeeded).
  const feed = (async () => {
    const how = await transport;
    let sink: Writable;
    if (how === 'bulk' && bulk) {
      h.stdin.end();
      // The guest has its end open: only now connect (see guest/bulkscript.ts BULK_READ_PERL).
      const c = await bulk.channels.open(bulk.socketPath);
      if (!c.socket) {
        unavailable = true;
        h.kill('KILL');
        return;
      }
      socket = c.socket;
      if (stopped) return;
      const framer = new BulkFramer(token!);
      framer.pipe(socket, { end: false });
      sink = framer;
      progress('copy', 'over the bulk channel');
    } else if (how === 'ssh') {
      if (bulk) progress('copy', 'over SSH (the guest has no bulk port device)');
      sink = h.stdin;
    } else return; // the script ended before choosing (e.g. the destination is taken)
    for (const argv of tarInvocations(bundle.parts)) {
      if (stopped || sink.destroyed) return;
      const p = spawnProcess(argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      current = p;
      const err = tail(p.child.stderr!);
      const out = p.child.stdout!;
      out.on('data', (chunk: Buffer) => {
        sent += chunk.length;
        if (Date.now() - lastReport > 1000) {
          lastReport = Date.now();
          progress('copy', `${formatBytes(sent)} of about ${formatBytes(total)}`);
        }
      });
      out.pipe(sink, { end: false });
      const code = await p.exit;
      await new Promise<void>((r) => {
        if (out.readableEnded || out.destroyed) return r();
        out.once('end', () => r());
        out.once('close', () => r());
      });
      current = null;
      if (code !== 0) {
        hostErr = `${argv[0]} exited with ${code}: ${(await err).trim().split('\n').slice(-3).join('; ')}`;
        sink.end(); // a well-framed end without the marker: the guest says the copy ended early
        return;
      }
    }
    if (!stopped) sink.end(endMarkerTar(Math.floor(Date.now() / 1000)));
  })();
  feed.catch(() => {});

  let status;
  try {
    status = await h.exit;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    stopped = true;
    // The guest may stop reading (an early error, a lost connection): never leave a host tar blocked on a full pipe.
    const c = current as ProcessHandle | null;
    if (c) {
      c.kill('SIGKILL');
      c.child.stdout?.destroy();
    }
    await feed.catch(() => {});
    // Only now: the guest command has exited (its acknowledgement); earlier would drop bytes in flight.
    (socket as Socket | null)?.destroy();
  }
  if (opts.signal?.aborted) throw new BangerError('unavailable', `workspace prepare in VM "${opts.vm}" was cancelled`);
  const how = await transport;
  if (status.code === 0) return how === 'bulk' ? 'bulk' : 'ssh';
  if (how === 'bulk' && unavailable) return 'unavailable';
  if (bulk && status.code === BULK_EXIT.unavailable) return 'unavailable';
  const why = (await guestErr).trim().split('\n').slice(-5).join('\n');
  if (status.code === GUEST_EXIT.destNotEmpty) {
    throw conflict(`${why}; pick another --guest-path, or remove it first (\`banger vm exec ${opts.vm} -- rm -rf ${opts.guestPath}\`)`, {
      guestPath: opts.guestPath,
    });
  }
  if (status.code === GUEST_EXIT.incomplete && hostErr) {
    throw new BangerError('internal', `reading the host files failed (${hostErr}); nothing was copied into VM "${opts.vm}"; fix it and prepare again`);
  }
  const res = status.code === null ? `died of ${status.signal ?? 'a lost connection'}` : `failed with exit ${status.code}`;
  const over = how === 'bulk' ? ' over the bulk channel' : '';
  throw new BangerError('internal', `copying the workspace into VM "${opts.vm}"${over} ${res}${why ? `: ${why}` : ''}`, {
    details: { code: status.code, signal: status.signal },
  });
}

/** The guest script's first output line (`bulk` or `ssh`), or null when it ended without one. */
function firstLine(stdout: ExecHandle['stdout']): Promise<'bulk' | 'ssh' | null> {
  return new Promise((resolve) => {
    let buf = '';
    const done = (v: 'bulk' | 'ssh' | null) => {
      stdout.off('data', onData);
      stdout.resume(); // nothing else is expected; never let it block the channel
      resolve(v);
    };
    const onData = (c: Buffer) => {
      buf += c.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(buf.slice(0, nl) === 'bulk' ? 'bulk' : buf.slice(0, nl) === 'ssh' ? 'ssh' : null);
      else if (buf.length > 64) done(null);
    };
    stdout.on('data', onData);
    stdout.once('end', () => done(null));
    stdout.once('close', () => done(null));
  });
}

/** The last STDERR_LIMIT bytes of a stream, as text, once it ends. */
function tail(stream: Readable): Promise<string> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    stream.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length > STDERR_LIMIT) buf = buf.subarray(buf.length - STDERR_LIMIT);
    });
    stream.on('end', () => resolve(buf.toString('utf8')));
    stream.on('close', () => resolve(buf.toString('utf8')));
    stream.on('error', () => resolve(buf.toString('utf8')));
  });
}
