/**
 * banger's one loopback HTTP listener. Every HTTP surface (the E2B-compatible endpoint, the web UI)
 * is a mount on it, not a second server: one port to configure, one place that refuses foreign
 * `Host` headers, one place that keeps a failing handler from taking the daemon down.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { httpStatusFor, toBangerError } from '../api/errors.js';
import type { Logger } from '../host/logger.js';
import { loopbackHostAllowed } from './hosts.js';

/** One HTTP surface. `match` picks requests by path (and headers); the first mount that matches owns it. */
export interface HttpMount {
  name: string;
  match(url: URL, req: IncomingMessage): boolean;
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> | void;
  /** WebSocket (or other) upgrades for paths this mount matches. */
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void;
}

export interface HttpListener {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface HttpListenerOptions {
  /** 0: any free port. */
  port: number;
  mounts: readonly HttpMount[];
  log: Logger;
  host?: string;
}

/** The JSON error body every mount's failures share unless the mount speaks its own protocol. */
export function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ code, message }));
}

function route(mounts: readonly HttpMount[], req: IncomingMessage): { mount: HttpMount; url: URL } | null {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const mount = mounts.find((m) => m.match(url, req));
  return mount ? { mount, url } : null;
}

export async function startHttpListener(opts: HttpListenerOptions): Promise<HttpListener> {
  const host = opts.host ?? '127.0.0.1';
  let port = 0;
  const server: Server = createServer((req, res) => {
    if (!loopbackHostAllowed(req.headers.host, port)) return sendError(res, 421, 'bad_request', 'this listener answers only http://127.0.0.1 or http://localhost on its own port');
    const r = route(opts.mounts, req);
    if (!r) return sendError(res, 404, 'not_found', `no banger endpoint at ${req.url}`);
    Promise.resolve()
      .then(() => r.mount.handle(req, res, r.url))
      .catch((err: unknown) => {
        const e = toBangerError(err);
        opts.log.warn({ mount: r.mount.name, path: r.url.pathname, err: e.message }, 'http request failed');
        sendError(res, httpStatusFor(e.code), e.code, e.message);
      });
  });
  server.on('upgrade', (req, socket, head) => {
    const r = loopbackHostAllowed(req.headers.host, port) ? route(opts.mounts, req) : null;
    if (!r?.mount.upgrade) return void socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
    try {
      r.mount.upgrade(req, socket, head, r.url);
    } catch (err) {
      opts.log.warn({ mount: r.mount.name, err: (err as Error).message }, 'http upgrade failed');
      socket.destroy();
    }
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as { port: number }).port;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
