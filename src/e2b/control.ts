/**
 * The E2B control plane (the subset of openapi.yml the `e2b` SDK calls): sandboxes create, list,
 * get, kill, timeout, pause, resume/connect, fork, refresh. Route matching is pure
 * (`matchControlRoute`); handlers answer in E2B's JSON shapes and statuses.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { BangerError } from '../api/errors.js';
import type { E2bSandboxRow } from '../store/e2b.js';
import { httpStatusOf, sendJsonError } from './errors.js';
import { ENVD_VERSION, type SandboxService, type SandboxView } from './sandboxes.js';

export type ControlRoute =
  | { op: 'create' }
  | { op: 'list' }
  | { op: 'get' | 'kill' | 'timeout' | 'pause' | 'resume' | 'connect' | 'fork' | 'refresh'; id: string };

/** The control-plane operation for a method and path, or null (pure). */
export function matchControlRoute(method: string, path: string): ControlRoute | null {
  const p = path.replace(/\/+$/, '');
  if ((p === '/sandboxes' || p === '/v2/sandboxes') && method === 'POST') return { op: 'create' };
  if ((p === '/sandboxes' || p === '/v2/sandboxes') && method === 'GET') return { op: 'list' };
  let m = /^\/sandboxes\/([A-Za-z0-9-]+)$/.exec(p);
  if (m) return method === 'GET' ? { op: 'get', id: m[1]! } : method === 'DELETE' ? { op: 'kill', id: m[1]! } : null;
  m = /^\/(?:v2\/)?sandboxes\/([A-Za-z0-9-]+)\/(timeout|pause|resume|connect|fork|refreshes)$/.exec(p);
  if (m && method === 'POST') {
    const verb = m[2] === 'refreshes' ? 'refresh' : (m[2] as 'timeout' | 'pause' | 'resume' | 'connect' | 'fork');
    return { op: verb, id: m[1]! };
  }
  return null;
}

const StringMap = z.record(z.string(), z.string());
const CreateBody = z.object({
  templateID: z.string().min(1),
  timeout: z.number().int().min(0).optional(),
  metadata: StringMap.nullish(),
  envVars: StringMap.nullish(),
  autoPause: z.boolean().nullish(),
});
const TimeoutBody = z.object({ timeout: z.number().int().min(0) });
const ConnectBody = z.object({ timeout: z.number().int().min(0).optional() });
const ForkBody = z.object({ timeout: z.number().int().min(0).optional(), count: z.number().int().min(1).max(16).optional() });

const MAX_BODY = 1024 * 1024;
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > MAX_BODY) throw new BangerError('bad_request', 'request body larger than 1 MiB');
    chunks.push(c as Buffer);
  }
  if (n === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BangerError('bad_request', 'request body is not JSON');
  }
}
function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw new BangerError('bad_request', `invalid request: ${r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
  return r.data;
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status);
    return void res.end();
  }
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** The `Sandbox` shape (create, connect, resume, fork). */
export function sandboxJson(row: E2bSandboxRow): Record<string, unknown> {
  return { templateID: row.template, sandboxID: row.id, clientID: 'banger', envdVersion: ENVD_VERSION, envdAccessToken: row.accessToken, domain: null };
}

/** The `SandboxDetail` / `ListedSandbox` shape. */
export function detailJson(v: SandboxView, withToken: boolean): Record<string, unknown> {
  const { row, vm } = v;
  return {
    templateID: row.template,
    sandboxID: row.id,
    clientID: 'banger',
    startedAt: row.startedAt,
    endAt: row.endAt,
    envdVersion: ENVD_VERSION,
    ...(withToken ? { envdAccessToken: row.accessToken } : {}),
    cpuCount: vm?.vcpu ?? 1,
    memoryMB: vm?.memoryMib ?? 0,
    diskSizeMB: vm ? Math.round(vm.diskSizeBytes / 1024 / 1024) : 0,
    metadata: row.metadata,
    state: row.state,
    volumeMounts: [],
  };
}

/** `metadata=k%3Dv&k2%3Dv2` (as the SDK encodes its query) into pairs. */
export function parseMetadataQuery(q: string | null): Record<string, string> {
  if (!q) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(q)) out[decodeURIComponent(k)] = decodeURIComponent(v);
  return out;
}

export async function handleControl(route: ControlRoute, req: IncomingMessage, res: ServerResponse, url: URL, sandboxes: SandboxService): Promise<void> {
  try {
    switch (route.op) {
      case 'create': {
        const b = parse(CreateBody, await readJson(req));
        const row = await sandboxes.create({
          templateID: b.templateID,
          ...(b.timeout !== undefined ? { timeout: b.timeout } : {}),
          ...(b.metadata ? { metadata: b.metadata } : {}),
          ...(b.envVars ? { envVars: b.envVars } : {}),
          ...(b.autoPause ? { autoPause: true } : {}),
        });
        return send(res, 201, sandboxJson(row));
      }
      case 'list': {
        const meta = parseMetadataQuery(url.searchParams.get('metadata'));
        const states = (url.searchParams.get('state') ?? '').split(',').filter(Boolean);
        const all = sandboxes
          .list()
          .filter((v) => Object.entries(meta).every(([k, val]) => v.row.metadata[k] === val))
          .filter((v) => states.length === 0 || states.includes(v.row.state));
        return send(res, 200, all.map((v) => detailJson(v, false)));
      }
      case 'get':
        return send(res, 200, detailJson(sandboxes.get(route.id), true));
      case 'kill':
        await sandboxes.kill(route.id);
        return send(res, 204);
      case 'timeout':
        await sandboxes.setTimeout(route.id, parse(TimeoutBody, await readJson(req)).timeout);
        return send(res, 204);
      case 'refresh':
        sandboxes.get(route.id);
        return send(res, 204);
      case 'pause':
        await readJson(req);
        await sandboxes.pause(route.id);
        return send(res, 204);
      case 'resume':
      case 'connect': {
        const b = parse(ConnectBody, await readJson(req));
        const { row, resumed } = await sandboxes.connect(route.id, b.timeout);
        return send(res, resumed ? 201 : 200, sandboxJson(row));
      }
      case 'fork': {
        const b = parse(ForkBody, await readJson(req));
        const rows = await sandboxes.fork(route.id, b.count ?? 1, b.timeout);
        return send(res, 200, rows.map((r) => ({ sandbox: sandboxJson(r) })));
      }
    }
  } catch (err) {
    const { status, message } = httpStatusOf(err);
    sendJsonError(res, status, message);
  }
}
