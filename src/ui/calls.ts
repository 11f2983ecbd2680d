/**
 * `POST /ui/api/<method>`: one API call from the browser, run through the daemon's own dispatch
 * (so the method's zod schema validates the body, exactly as for the CLI) and answered as NDJSON
 * lines (api/ui.ts UiCallLine): progress and output as they happen, then the result or the error
 * with banger's own message. Only the methods the UI uses are reachable.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, Writable } from 'node:stream';
import { BangerError, toBangerError } from '../api/errors.js';
import type { UiCallLine } from '../api/ui.js';
import type { CallContext, Dispatch } from '../daemon/server.js';

export const UI_METHODS: ReadonlySet<string> = new Set([
  'daemon.status',
  'daemon.doctor',
  'vm.list',
  'vm.show',
  'vm.stats',
  'vm.create',
  'vm.start',
  'vm.stop',
  'vm.restart',
  'vm.kill',
  'vm.delete',
  'vm.ports',
  'vm.forwards',
  'vm.snapshot',
  'vm.fork',
  'snapshot.list',
  'snapshot.delete',
  'image.list',
  'image.delete',
  'kernel.list',
  'kernel.delete',
  'kernel.pull',
  'image.build',
  'image.pull',
  'workspace.plan',
  'workspace.prepare',
  'workspace.export',
]);

const MAX_BODY = 1 << 20;

export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > MAX_BODY) throw new BangerError('bad_request', `request body over ${MAX_BODY} bytes`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new BangerError('bad_request', 'the request body is not JSON');
  }
}

export async function serveCall(dispatch: Dispatch, method: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!UI_METHODS.has(method)) throw new BangerError('not_found', `the web UI does not offer ${method}; use the CLI`);
  const params = await readJsonBody(req);
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  const t0 = Date.now();
  const line = (l: UiCallLine) => {
    if (!res.destroyed) res.write(`${JSON.stringify(l)}\n`);
  };
  const stdin = new PassThrough();
  stdin.end();
  const ctx: CallContext = {
    progress: (stage, message) => line({ progress: { stage, ...(message ? { message } : {}), elapsedMs: Date.now() - t0 } }),
    signal: abort.signal,
    stdin,
    write: (stream, data) => line({ stream, data: data.toString('base64') }),
    // At the browser's pace: a write completes once the response drains.
    output: (stream) =>
      new Writable({
        write(chunk: Buffer, _enc, done) {
          if (res.destroyed) return done();
          if (res.write(`${JSON.stringify({ stream, data: chunk.toString('base64') })}\n`)) return done();
          res.once('drain', () => done());
        },
      }),
  };
  try {
    const result = await dispatch(method, params, ctx);
    line({ result: result ?? null });
  } catch (err) {
    const e = toBangerError(err);
    line({ error: { code: e.code, message: e.message } });
  }
  res.end();
}
