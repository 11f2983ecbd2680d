/**
 * Asks a socket whether it answers: one request in bangerd's framing (api/wire.ts: JSON lines, one
 * request per connection), the first result or error frame back, bounded by a timeout. Used to wait
 * for the two units after install and by status/doctor. Speaks raw frames because `helper.status`
 * belongs to bangerd-root's API, not bangerd's method table.
 */
import { connect } from 'node:net';
import { z } from 'zod';
import { DaemonStatus } from '../api/daemon.js';
import { API_VERSION, LineDecoder, ServerFrame, encodeFrame } from '../api/wire.js';

export type ProbeResult = { ok: true; result: unknown } | { ok: false; error: string };
export type Probe = (socket: string, method: string, timeoutMs?: number) => Promise<ProbeResult>;

export const probeSocket: Probe = (socket, method, timeoutMs = 2000) =>
  new Promise((resolve) => {
    const sock = connect(socket);
    const decoder = new LineDecoder();
    let done = false;
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ ok: false, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
    sock.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, error: err.code ?? err.message }));
    sock.on('close', () => finish({ ok: false, error: 'closed without answering' }));
    sock.on('connect', () => sock.write(encodeFrame({ v: API_VERSION, method, params: {} })));
    sock.on('data', (chunk) => {
      for (const line of decoder.push(chunk)) {
        let raw: unknown;
        try {
          raw = JSON.parse(line);
        } catch {
          return finish({ ok: false, error: 'answered something that is not JSON' });
        }
        const f = ServerFrame.safeParse(raw);
        if (!f.success) continue;
        if ('result' in f.data) return finish({ ok: true, result: f.data.result });
        if ('error' in f.data) return finish({ ok: false, error: `${f.data.error.code}: ${f.data.error.message}` });
      }
    });
  });

/** The part of bangerd-root's `helper.status` answer install and doctor rely on (its own schema may carry more). */
export const HelperStatusSeen = z.object({ version: z.string(), installId: z.string(), ownerUid: z.number().int() }).passthrough();
/** The part of bangerd's `daemon.status` answer install, status and uninstall read (tolerant of newer fields). */
export const DaemonStatusSeen = DaemonStatus.pick({ pid: true, version: true, vmsRunning: true }).passthrough();
