/**
 * The web UI's mount on the daemon's loopback HTTP listener (http/listener.ts, which already
 * refused foreign Host headers): paths under /ui only. Every path but the login link needs the
 * session cookie (else 401, no data); every POST also needs the CSRF token and, when the browser
 * sends one, a same-origin Origin; a WebSocket upgrade needs the cookie and a same-origin Origin.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { UI_CSRF_HEADER } from '../api/ui.js';
import { sendError, type HttpMount } from '../http/listener.js';
import { loopbackOriginAllowed } from '../http/hosts.js';
import type { Logger } from '../host/logger.js';
import type { Dispatch } from '../daemon/server.js';
import type { Paths } from '../store/paths.js';
import type { VmEvents } from '../vms/events.js';
import type { VmService } from '../vms/contracts.js';
import { serveAsset, servePage } from './assets.js';
import { createUiAuth, sessionCookie, type UiAuth } from './auth.js';
import { serveCall } from './calls.js';
import { serveConsole } from './console.js';
import { doctorChecks } from './doctor.js';
import { createUiStream } from './stream.js';
import { createUiTerminal } from './term.js';

export interface UiDeps {
  /** The per-install secret (ui/secret.ts), read on first need: a bad file fails UI requests, not the daemon. */
  secret: () => Buffer;
  dispatch: Dispatch;
  vms: Pick<VmService, 'list' | 'show' | 'stats' | 'lookup' | 'session' | 'hold'>;
  events: VmEvents;
  /** The guest's serial console file of a VM id (store/paths.ts vmFile(id, 'serial')). */
  serialPath(id: string): string;
  statsIntervalMs: number;
  /** For the doctor page (`banger doctor`'s host checks read the install's directories). */
  paths: Paths;
  log: Logger;
  assetsDir?: string;
}

export interface UiMount extends HttpMount {
  /** A one-time login path (`/ui/login?token=...`) for `banger ui`. */
  loginPath(): string;
  close(): void;
}

const localPort = (req: IncomingMessage) => req.socket.localPort ?? 0;
const unauthorized = (res: ServerResponse) =>
  sendError(res, 401, 'unauthorized', 'no banger UI session: open the URL `banger ui` prints (it is valid once, for 5 minutes)');

function loginFailed(res: ServerResponse): void {
  res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end('This banger UI link was already used or has expired. Run `banger ui` again for a new one.\n');
}

export function createUiMount(deps: UiDeps): UiMount {
  let authOnce: UiAuth | null = null;
  const auth = (): UiAuth => (authOnce ??= createUiAuth({ secret: deps.secret() }));
  const stream = createUiStream({ vms: deps.vms, events: deps.events, statsIntervalMs: deps.statsIntervalMs, log: deps.log });
  const term = createUiTerminal({ vms: deps.vms, log: deps.log });

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const p = url.pathname;
    if (p === '/ui/login') {
      const cookie = req.method === 'GET' ? auth().login(url.searchParams.get('token')) : null;
      if (!cookie) return loginFailed(res);
      // The token leaves the address bar at once: the clean URL is what stays in history.
      res.writeHead(303, { 'set-cookie': sessionCookie(cookie), location: '/ui/', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
      return void res.end();
    }
    const session = auth().session(req.headers.cookie);
    if (!session) return unauthorized(res);

    if (req.method === 'POST') {
      const origin = req.headers.origin;
      if (origin !== undefined && !loopbackOriginAllowed(origin, localPort(req))) return sendError(res, 403, 'forbidden', `cross-site request from ${origin} refused`);
      if (!auth().csrfOk(session, req.headers[UI_CSRF_HEADER])) return sendError(res, 403, 'forbidden', `missing or wrong ${UI_CSRF_HEADER} header; reload the page`);
      if (p === '/ui/doctor') {
        const checks = await doctorChecks(deps.paths, deps.dispatch);
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        return void res.end(JSON.stringify(checks));
      }
      const m = /^\/ui\/api\/([a-z]+\.[a-zA-Z]+)$/.exec(p);
      if (!m) return sendError(res, 404, 'not_found', `no UI action at ${p}`);
      return serveCall(deps.dispatch, m[1]!, req, res);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'bad_request', `${req.method} is not used by the UI`);

    if (p === '/ui' || p === '/ui/') return servePage(auth().csrf(session), req, res);
    if (p.startsWith('/ui/assets/')) {
      if (serveAsset(p.slice('/ui/assets/'.length), req, res, deps.assetsDir)) return;
      return sendError(res, 404, 'not_found', `no UI asset ${p} (was the UI built? node scripts/build.mjs)`);
    }
    if (p === '/ui/events') return stream.serve(req, res);
    const con = /^\/ui\/vms\/([^/]+)\/console$/.exec(p);
    if (con) {
      const rec = deps.vms.lookup(decodeURIComponent(con[1]!));
      return serveConsole(deps.serialPath(rec.id), req, res);
    }
    return sendError(res, 404, 'not_found', `no UI page at ${p}`);
  }

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    const refuse = (status: string) => void socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    if (!auth().session(req.headers.cookie)) return refuse('401 Unauthorized');
    if (!loopbackOriginAllowed(req.headers.origin, localPort(req))) return refuse('403 Forbidden');
    const m = /^\/ui\/ws\/term\/([^/]+)$/.exec(url.pathname);
    if (!m) return refuse('404 Not Found');
    term.upgrade(req, socket, head, decodeURIComponent(m[1]!), url);
  }

  return {
    name: 'ui',
    match: (url) => url.pathname === '/ui' || url.pathname.startsWith('/ui/'),
    handle,
    upgrade,
    loginPath: () => `/ui/login?token=${auth().issueLogin()}`,
    close() {
      stream.close();
      term.close();
    },
  };
}
