/**
 * envd's plain HTTP half: `/health`, and `/files` download (streamed from the guest) and upload
 * (multipart with one or many files, or one octet-stream body), all written in ONE guest exec
 * (guest/files.ts writeFiles). Paths resolve against `?username=` (default: root).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import busboy from 'busboy';
import { BangerError } from '../api/errors.js';
import type { GuestSession } from '../guest/access.js';
import * as files from '../guest/files.js';
import { toFileJson } from './entry.js';
import { httpStatusOf, sendJsonError } from './errors.js';
import { checkedUser, resolveGuestPath } from './user.js';

/** One upload request holds at most this much in memory. */
const MAX_UPLOAD_BYTES = 2 * 1024 * 1024 * 1024;

async function download(res: ServerResponse, session: GuestSession, path: string): Promise<void> {
  const { stream, size, done } = await files.readStream(session, path);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size), 'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(path.split('/').pop() ?? 'file')}` });
  stream.pipe(res);
  res.on('close', () => stream.destroy());
  await done.catch(() => res.destroy());
}

function collectMultipart(req: IncomingMessage, fallbackPath: string | null): Promise<Array<{ path: string; data: Buffer }>> {
  return new Promise((resolve, reject) => {
    const out: Array<{ path: string; data: Buffer }> = [];
    let total = 0;
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, preservePath: true });
    } catch (err) {
      return reject(new BangerError('bad_request', `bad multipart upload: ${(err as Error).message}`));
    }
    const pending: Promise<void>[] = [];
    bb.on('file', (_field, stream, info) => {
      const chunks: Buffer[] = [];
      pending.push(
        new Promise<void>((res, rej) => {
          stream.on('data', (c: Buffer) => {
            total += c.length;
            if (total > MAX_UPLOAD_BYTES) {
              rej(new BangerError('bad_request', 'upload larger than 2 GiB'));
              req.unpipe(bb);
              return;
            }
            chunks.push(c);
          });
          stream.on('end', () => {
            const path = info.filename || fallbackPath;
            if (!path) return rej(new BangerError('bad_request', 'a file part has no file name and the request no ?path='));
            out.push({ path, data: Buffer.concat(chunks) });
            res();
          });
          stream.on('error', rej);
        }),
      );
    });
    bb.on('error', (e: Error) => reject(new BangerError('bad_request', `bad multipart upload: ${e.message}`)));
    bb.on('close', () => Promise.all(pending).then(() => resolve(out), reject));
    req.pipe(bb);
  });
}

async function upload(req: IncomingMessage, res: ServerResponse, session: GuestSession, url: URL, user: string): Promise<void> {
  const qpath = url.searchParams.get('path');
  const type = req.headers['content-type'] ?? '';
  let entries: files.WriteEntry[];
  if (type.startsWith('multipart/form-data')) {
    const parts = await collectMultipart(req, qpath);
    // With ?path= and one part, the query names the file (the SDK's single-file write).
    entries = parts.map((p) => ({ path: resolveGuestPath(parts.length === 1 && qpath ? qpath : p.path, user), data: p.data }));
  } else {
    if (!qpath) throw new BangerError('bad_request', 'an octet-stream upload needs ?path=');
    if (req.headers['content-encoding']) throw new BangerError('bad_request', `Content-Encoding ${req.headers['content-encoding']} is not supported; upload uncompressed`);
    const len = Number(req.headers['content-length']);
    if (Number.isInteger(len) && len >= 0) entries = [{ path: resolveGuestPath(qpath, user), data: req, size: len }];
    else {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      entries = [{ path: resolveGuestPath(qpath, user), data: Buffer.concat(chunks) }];
    }
  }
  if (entries.length === 0) throw new BangerError('bad_request', 'no file in the upload');
  const written = await files.writeFiles(session, entries, user === 'root' ? undefined : user);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(written.map(toFileJson)));
}

export async function handleFiles(req: IncomingMessage, res: ServerResponse, url: URL, session: () => Promise<GuestSession>): Promise<void> {
  try {
    const user = checkedUser(url.searchParams.get('username'));
    if (req.method === 'GET') {
      const path = url.searchParams.get('path');
      if (!path) throw new BangerError('bad_request', '?path= is required');
      return await download(res, await session(), resolveGuestPath(path, user));
    }
    if (req.method === 'POST') return await upload(req, res, await session(), url, user);
    throw new BangerError('bad_request', `${req.method} /files is not supported`);
  } catch (err) {
    const { status, message } = httpStatusOf(err);
    sendJsonError(res, status, message);
  }
}
