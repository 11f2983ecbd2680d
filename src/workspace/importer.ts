/**
 * Streams a bundle into the guest: host `tar` processes write straight into one exec channel on
 * the daemon's pooled SSH connection, whose command is the import script (scripts.ts). The end
 * marker is sent only after every host tar exited 0, so a failed host side never leaves a
 * workspace behind in the guest.
 */
import type { Readable } from 'node:stream';
import { BangerError, conflict } from '../api/errors.js';
import { formatBytes } from '../api/names.js';
import { noProgress, type Progress } from '../api/progress.js';
import type { GuestSession } from '../guest/access.js';
import { spawnProcess, type ProcessHandle } from '../host/exec.js';
import type { Bundle } from './bundle.js';
import { GUEST_EXIT, importCommand } from './scripts.js';
import { endMarkerTar, tarInvocations } from './stream.js';

export interface ImportOptions {
  guestPath: string;
  signal?: AbortSignal;
  progress?: Progress;
  /** VM name, for messages. */
  vm: string;
}

/** Copies a bundle into the guest. The workspace service's test seam: tests pass a stand-in. */
export type Importer = (session: GuestSession, bundle: Bundle, opts: ImportOptions) => Promise<void>;

const STDERR_LIMIT = 64 * 1024;

export const streamBundle: Importer = async (session, bundle, opts) => {
  const progress = opts.progress ?? noProgress;
  const h = session.exec(importCommand(opts.guestPath, { checkout: bundle.checkout }), { stdin: 'pipe' });
  const guestErr = tail(h.stderr);
  h.stdin.on('error', () => {});
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

  // Host side: each tar in turn into the channel, then the marker (only if all succeeded).
  const feed = (async () => {
    for (const argv of tarInvocations(bundle.parts)) {
      if (stopped || h.stdin.destroyed) return;
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
      out.pipe(h.stdin, { end: false });
      const code = await p.exit;
      await new Promise<void>((r) => {
        if (out.readableEnded || out.destroyed) return r();
        out.once('end', () => r());
        out.once('close', () => r());
      });
      current = null;
      if (code !== 0) {
        hostErr = `${argv[0]} exited with ${code}: ${(await err).trim().split('\n').slice(-3).join('; ')}`;
        h.stdin.end();
        return;
      }
    }
    if (!stopped) h.stdin.end(endMarkerTar(Math.floor(Date.now() / 1000)));
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
  }
  if (opts.signal?.aborted) throw new BangerError('unavailable', `workspace prepare in VM "${opts.vm}" was cancelled`);
  if (status.code === 0) return;
  const why = (await guestErr).trim().split('\n').slice(-5).join('\n');
  if (status.code === GUEST_EXIT.destNotEmpty) {
    throw conflict(`${why}; pick another --guest-path, or remove it first (\`banger vm exec ${opts.vm} -- rm -rf ${opts.guestPath}\`)`, {
      guestPath: opts.guestPath,
    });
  }
  if (status.code === GUEST_EXIT.incomplete && hostErr) {
    throw new BangerError('internal', `reading the host files failed (${hostErr}); nothing was copied into VM "${opts.vm}"; fix it and prepare again`);
  }
  const how = status.code === null ? `died of ${status.signal ?? 'a lost connection'}` : `failed with exit ${status.code}`;
  throw new BangerError('internal', `copying the workspace into VM "${opts.vm}" ${how}${why ? `: ${why}` : ''}`, {
    details: { code: status.code, signal: status.signal },
  });
};

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
