import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BangerError } from '../../api/errors.js';
import { createApiClient, faultToError } from './api.js';

describe('faultToError', () => {
  it.each([
    [400, '{"fault_message":"Open tap device failed"}', 'bad_request', /refused PUT \/x \(HTTP 400\): Open tap device failed/],
    [500, '{"fault_message":"Internal error"}', 'internal', /HTTP 500\): Internal error/],
    [400, 'garbage', 'bad_request', /HTTP 400\): garbage/],
    [404, '', 'bad_request', /no fault message/],
  ] as const)('%i %s', (status, body, code, message) => {
    const err = faultToError({ method: 'PUT', path: '/x' }, status, body);
    expect(err).toBeInstanceOf(BangerError);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });
});

describe('createApiClient against a unix-socket HTTP server', () => {
  let dir: string;
  let server: Server;
  const seen: Array<{ method?: string; url?: string; contentType?: string; body: string }> = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fc-api-'));
    server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString() });
        if (req.url === '/fail') {
          res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"fault_message":"The requested operation is not supported before starting the microVM."}');
        } else if (req.url === '/') {
          res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"id":"x","state":"Running","vmm_version":"1.14.1","app_name":"Firecracker"}');
        } else res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(join(dir, 'api.sock'), resolve));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends JSON bodies and resolves 204 with no body', async () => {
    const api = createApiClient(join(dir, 'api.sock'));
    const res = await api.send({ method: 'PATCH', path: '/vm', body: { state: 'Paused' } });
    expect(res).toEqual({ status: 204, body: undefined });
    expect(seen.at(-1)).toEqual({ method: 'PATCH', url: '/vm', contentType: 'application/json', body: '{"state":"Paused"}' });
  });

  it('parses JSON answers', async () => {
    const res = await createApiClient(join(dir, 'api.sock')).send({ method: 'GET', path: '/' });
    expect(res.body).toMatchObject({ state: 'Running' });
  });

  it('maps a fault_message to a BangerError and stops sendAll there', async () => {
    const api = createApiClient(join(dir, 'api.sock'));
    const before = seen.length;
    const err = await api.sendAll([{ method: 'PUT', path: '/a', body: {} }, { method: 'PUT', path: '/fail', body: {} }, { method: 'PUT', path: '/b', body: {} }]).catch((e) => e);
    expect(err).toBeInstanceOf(BangerError);
    expect(err.code).toBe('bad_request');
    expect(err.message).toContain('not supported before starting the microVM');
    expect(seen.slice(before).map((s) => s.url)).toEqual(['/a', '/fail']);
  });

  it('reports a missing socket as unavailable', async () => {
    const err = await createApiClient(join(dir, 'nope.sock')).send({ method: 'GET', path: '/' }).catch((e) => e);
    expect(err).toBeInstanceOf(BangerError);
    expect(err.code).toBe('unavailable');
    expect(err.message).toMatch(/is the VM running\?/);
  });
});
