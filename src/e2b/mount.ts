/**
 * The E2B-compatible endpoint as one mount on banger's loopback HTTP listener: control-plane
 * routes (X-API-Key = the install's key), and envd (`/files`, `/health`, the Connect services
 * `process.Process` and `filesystem.Filesystem`) for requests naming a sandbox in
 * `E2b-Sandbox-Id` with its `X-Access-Token`. The SDK reaches both with E2B_API_URL and
 * E2B_SANDBOX_URL pointed at the listener (`banger serve --print-env`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HandlerContext } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { BangerError } from '../api/errors.js';
import type { Logger } from '../host/logger.js';
import type { HttpMount } from '../http/listener.js';
import type { SnapshotService } from '../snapshots/service.js';
import type { Db } from '../store/db.js';
import { createE2bStore } from '../store/e2b.js';
import type { VmService } from '../vms/contracts.js';
import { handleControl, matchControlRoute } from './control.js';
import { handleFiles } from './envd-http.js';
import { sendJsonError } from './errors.js';
import { registerFilesystemService } from './filesystem-rpc.js';
import { ensureApiKey, secretMatches } from './key.js';
import { registerProcessService, type EnvdContext } from './process-rpc.js';
import { createProcessTable } from './processes.js';
import { createSandboxService } from './sandboxes.js';

const ENVD_PREFIXES = ['/process.Process/', '/filesystem.Filesystem/'];

/** Which half of the endpoint a path belongs to (pure). */
export function e2bPathKind(path: string): 'control' | 'files' | 'health' | 'rpc' | null {
  if (path === '/files') return 'files';
  if (path === '/health') return 'health';
  if (ENVD_PREFIXES.some((p) => path.startsWith(p))) return 'rpc';
  if (/^\/(v2\/)?sandboxes(\/|$)/.test(path)) return 'control';
  return null;
}

export interface E2bDeps {
  db: Db;
  vms: Pick<VmService, 'create' | 'delete' | 'start' | 'session' | 'list'>;
  snapshots: Pick<SnapshotService, 'snapshotVm' | 'fork' | 'list' | 'delete'>;
  apiKeyPath: string;
  defaultImage: string;
  log: Logger;
}

export function createE2bEndpoint(deps: E2bDeps): { mount: HttpMount; start(): void; stop(): void } {
  const apiKey = ensureApiKey(deps.apiKeyPath);
  const procs = createProcessTable();
  let dropWatchers: (id: string) => void = () => {};
  const sandboxes = createSandboxService({
    store: createE2bStore(deps.db),
    vms: deps.vms,
    snapshots: deps.snapshots,
    defaultImage: deps.defaultImage,
    log: deps.log,
    onGone: (id) => {
      procs.drop(id);
      dropWatchers(id);
    },
  });
  const env: EnvdContext = {
    sandboxOf: (ctx: HandlerContext) => ctx.requestHeader.get('e2b-sandbox-id') ?? '',
    session: (id, signal) => sandboxes.session(id, signal),
    envsOf: (id) => sandboxes.find(id)?.envs ?? {},
  };
  const rpc = connectNodeAdapter({
    fallback: (_req, res) => sendJsonError(res as ServerResponse, 404, 'no such RPC in banger\'s envd'),
    routes: (router) => {
      registerProcessService(router, procs, env);
      dropWatchers = registerFilesystemService(router, env).dropSandbox;
    },
  });

  /** envd requests: the sandbox must exist and be running (else 502, E2B's "sandbox is gone"), the token must match. */
  function envdGate(req: IncomingMessage, res: ServerResponse): string | null {
    const id = String(req.headers['e2b-sandbox-id'] ?? '');
    const row = id ? sandboxes.find(id) : null;
    if (!row || row.state !== 'running') {
      sendJsonError(res, 502, id ? `sandbox ${id} is not running (killed, paused or expired)` : 'no E2b-Sandbox-Id header: point E2B_SANDBOX_URL at this endpoint');
      return null;
    }
    if (!secretMatches(req.headers['x-access-token'], row.accessToken)) {
      sendJsonError(res, 401, `wrong or missing X-Access-Token for sandbox ${id}`);
      return null;
    }
    return id;
  }

  const mount: HttpMount = {
    name: 'e2b',
    match: (url) => e2bPathKind(url.pathname) !== null,
    async handle(req, res, url) {
      const kind = e2bPathKind(url.pathname);
      if (kind === 'control') {
        if (!secretMatches(req.headers['x-api-key'], apiKey)) return sendJsonError(res, 401, 'wrong or missing X-API-Key: use the key `banger serve --print-env` prints');
        const route = matchControlRoute(req.method ?? 'GET', url.pathname);
        if (!route) return sendJsonError(res, 404, `no E2B endpoint ${req.method} ${url.pathname} in banger`);
        return handleControl(route, req, res, url, sandboxes);
      }
      const id = envdGate(req, res);
      if (id === null) return;
      if (kind === 'health') {
        res.writeHead(204);
        return void res.end();
      }
      if (kind === 'files') return handleFiles(req, res, url, () => sandboxes.session(id));
      if (kind === 'rpc') {
        return new Promise<void>((resolve) => {
          res.on('close', resolve);
          rpc(req, res);
        });
      }
      throw new BangerError('not_found', `no E2B endpoint at ${url.pathname}`);
    },
  };
  return { mount, start: () => sandboxes.start(), stop: () => sandboxes.stop() };
}
