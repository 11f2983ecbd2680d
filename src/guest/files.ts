/**
 * File operations in a guest over its pooled SSH session, for every surface that needs them (the
 * E2B endpoint, MCP): stat, list (with depth), mkdir, move, remove, streamed read, and a batch
 * write of many files in ONE exec (a tar stream unpacked by the guest's tar). Exec-based rather than
 * SFTP: it rides the channel pool that is already open, needs nothing in the guest beyond
 * coreutils/findutils/tar, and a batch costs one channel whatever the number of files.
 */
import { PassThrough, Readable } from 'node:stream';
import { once } from 'node:events';
import tar from 'tar-stream';
import { BangerError } from '../api/errors.js';
import type { GuestSession } from './access.js';
import type { ExecHandle } from './connection.js';
import { FIND_PRINTF, parseFindOutput, type GuestEntry } from './fileinfo.js';
import { shellCommand } from './quote.js';

/** Exit codes the guest scripts use to say why they refused. */
const NOT_FOUND = 44;
const NOT_DIR = 45;
const IS_DIR = 46;
const EXISTS = 47;

const EXISTS_TEST = '{ [ -e "$1" ] || [ -L "$1" ]; } || exit 44';

function failure(code: number | null, path: string, stderr: string, what: string): BangerError {
  if (code === NOT_FOUND) return new BangerError('not_found', `${path}: no such file or directory in the guest`);
  if (code === NOT_DIR) return new BangerError('bad_request', `${path} is not a directory`);
  if (code === IS_DIR) return new BangerError('bad_request', `${path} is a directory`);
  if (code === EXISTS) return new BangerError('conflict', `${path} already exists`);
  return new BangerError('internal', `${what} ${path} failed in the guest (exit ${code}): ${stderr.trim().slice(0, 500)}`);
}

async function script(s: GuestSession, body: string, args: string[], what: string, path: string): Promise<Buffer> {
  const r = await s.run(['sh', '-c', body, 'sh', ...args]);
  if (r.code !== 0) throw failure(r.code, path, r.stderr, what);
  return r.stdoutBytes;
}

export async function stat(s: GuestSession, path: string): Promise<GuestEntry> {
  const out = await script(s, `${EXISTS_TEST}; find "$1" -maxdepth 0 -printf "$2"`, [path, FIND_PRINTF], 'stat', path);
  const e = parseFindOutput(out)[0];
  if (!e) throw new BangerError('internal', `stat ${path}: the guest printed nothing`);
  return e;
}

/** Entries under `path` down to `depth` levels (1: the directory's own entries). */
export async function list(s: GuestSession, path: string, depth = 1): Promise<GuestEntry[]> {
  const body = `${EXISTS_TEST}; [ -d "$1" ] || exit 45; find "$1" -mindepth 1 -maxdepth "$2" -printf "$3"`;
  return parseFindOutput(await script(s, body, [path, String(Math.max(1, depth)), FIND_PRINTF], 'list', path));
}

/** Creates the directory and its parents; conflict if something already exists there. */
export async function makeDir(s: GuestSession, path: string, owner?: string): Promise<GuestEntry> {
  const chown = owner ? `chown -- "$3" "$1" || exit 1; ` : '';
  const body = `{ [ -e "$1" ] || [ -L "$1" ]; } && exit 47; mkdir -p -- "$1" || exit 1; ${chown}find "$1" -maxdepth 0 -printf "$2"`;
  const e = parseFindOutput(await script(s, body, [path, FIND_PRINTF, ...(owner ? [owner] : [])], 'mkdir', path))[0];
  if (!e) throw new BangerError('internal', `mkdir ${path}: the guest printed nothing`);
  return e;
}

export async function move(s: GuestSession, from: string, to: string): Promise<GuestEntry> {
  const body = `${EXISTS_TEST}; mkdir -p -- "$(dirname -- "$2")" && mv -f -- "$1" "$2" && find "$2" -maxdepth 0 -printf "$3"`;
  const e = parseFindOutput(await script(s, body, [from, to, FIND_PRINTF], 'move', from))[0];
  if (!e) throw new BangerError('internal', `move ${from}: the guest printed nothing`);
  return e;
}

export async function remove(s: GuestSession, path: string): Promise<void> {
  await script(s, `${EXISTS_TEST}; rm -rf -- "$1"`, [path], 'remove', path);
}

/**
 * Streams a file's bytes. Resolves once the guest has started sending (or refused: not_found, a
 * directory); the stream ends when the file does.
 */
export async function readStream(s: GuestSession, path: string): Promise<{ stream: Readable; size: number; done: Promise<void> }> {
  // The size first (one line on stderr would race with the data): a stat, then cat.
  const e = await stat(s, path);
  if (e.type === 'dir') throw failure(IS_DIR, path, '', 'read');
  const h: ExecHandle = s.exec(shellCommand(['cat', '--', path]));
  const out = new PassThrough();
  h.stdout.pipe(out);
  let stderr = '';
  h.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = h.exit.then((st) => {
    if (st.code !== 0) {
      const err = failure(st.code, path, stderr, 'read');
      out.destroy(err);
      throw err;
    }
  });
  done.catch(() => {});
  out.on('close', () => {
    if (!out.readableEnded) h.kill('SIGKILL');
  });
  return { stream: out, size: e.size, done };
}

export async function readFile(s: GuestSession, path: string): Promise<Buffer> {
  const { stream, done } = await readStream(s, path);
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  await done;
  return Buffer.concat(chunks);
}

export interface WriteEntry {
  /** Absolute guest path. */
  path: string;
  data: Buffer | Readable;
  /** Needed with a Readable (tar records the size first). */
  size?: number;
}

/**
 * Writes every entry (parents created, existing files replaced) in one exec: a tar stream into the
 * guest's `tar -x -C /`. `owner` (a guest user) gets the files. Returns the paths written, not a
 * stat of each (callers that need one call `stat`: it costs a user-name lookup per file in the guest).
 */
export async function writeFiles(s: GuestSession, files: readonly WriteEntry[], owner?: string): Promise<Array<{ path: string; name: string }>> {
  if (files.length === 0) return [];
  for (const f of files) {
    if (!f.path.startsWith('/')) throw new BangerError('bad_request', `guest path ${JSON.stringify(f.path)} must be absolute`);
    if (f.path.split('/').includes('..')) throw new BangerError('bad_request', `guest path ${JSON.stringify(f.path)} must not contain ..`);
    if (!Buffer.isBuffer(f.data) && f.size === undefined) throw new BangerError('internal', `writeFiles: a stream for ${f.path} needs its size`);
  }
  const paths = files.map((f) => f.path);
  const chown = owner ? '; chown -- "$OWNER" "$@"' : '';
  const body = `tar -x -m --no-same-owner --no-same-permissions -C / -f -${chown}`;
  const env: Record<string, string> = owner ? { OWNER: owner } : {};
  const h = s.exec(shellCommand(['sh', '-c', body, 'sh', ...paths]), { stdin: 'pipe', env });
  let stderr = '';
  h.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const pack = tar.pack();
  // tar-stream's streams are streamx ones: pumped by hand into the channel, at its pace.
  // Its chunks (a 512-byte header, the data, the padding) are coalesced: one SSH packet each would dominate small files.
  const feeding = (async () => {
    let pending: Buffer[] = [];
    let bytes = 0;
    const flush = async () => {
      if (bytes === 0) return;
      const ok = h.stdin.write(pending.length === 1 ? pending[0] : Buffer.concat(pending));
      pending = [];
      bytes = 0;
      if (!ok) await once(h.stdin, 'drain');
    };
    for await (const chunk of pack as AsyncIterable<Buffer>) {
      pending.push(chunk);
      bytes += chunk.length;
      if (bytes >= 256 * 1024) await flush();
    }
    await flush();
    h.stdin.end();
  })();
  feeding.catch(() => h.stdin.destroy());
  const mtime = new Date();
  try {
    for (const f of files) {
      const name = f.path.replace(/^\/+/, '');
      if (Buffer.isBuffer(f.data)) {
        // Queued without waiting for each entry to drain: one tick per file would dominate a batch of small ones.
        pack.entry({ name, size: f.data.length, mode: 0o644, mtime }, f.data);
      } else {
        const entry = pack.entry({ name, size: f.size!, mode: 0o644, mtime });
        for await (const c of f.data) if (!entry.write(c as Buffer)) await new Promise<void>((r) => entry.once('drain', () => r()));
        await new Promise<void>((res, rej) => {
          entry.once('finish', res);
          entry.once('error', rej);
          (entry as unknown as { end(): void }).end();
        });
      }
    }
    pack.finalize();
    await feeding;
  } catch (err) {
    h.kill('SIGKILL');
    throw err;
  }
  const st = await h.exit;
  if (st.code !== 0) throw failure(st.code, paths[0]!, stderr, 'write');
  return paths.map((path) => ({ path, name: path.slice(path.lastIndexOf('/') + 1) }));
}
