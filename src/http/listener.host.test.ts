import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BangerError } from '../api/errors.js';
import { createLogger } from '../host/logger.js';
import { createHttpService } from '../daemon/http.js';
import { startHttpListener, type HttpMount } from './listener.js';

const log = createLogger({ level: 'silent' });

function get(port: number, path: string, host = `127.0.0.1:${port}`): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const mounts: HttpMount[] = [
  { name: 'hello', match: (u) => u.pathname === '/hello', handle: (_q, res) => void res.end('hi') },
  {
    name: 'broken',
    match: (u) => u.pathname.startsWith('/broken'),
    handle: (_q, _r, u) => {
      if (u.pathname === '/broken/missing') throw new BangerError('not_found', 'no such thing');
      throw new Error('boom');
    },
  },
];

describe('loopback http listener', async () => {
  const l = await startHttpListener({ port: 0, mounts, log });
  afterAll(() => l.close());

  it('routes to the mount that matches', async () => {
    expect(await get(l.port, '/hello')).toEqual({ status: 200, body: 'hi' });
    expect((await get(l.port, '/hello', `localhost:${l.port}`)).status).toBe(200);
  });

  it('refuses a foreign Host before any mount runs (DNS rebinding)', async () => {
    const r = await get(l.port, '/hello', `evil.example:${l.port}`);
    expect(r.status).toBe(421);
    expect(r.body).not.toBe('hi');
  });

  it('answers an unknown path with 404 and a failing handler with its error, and keeps serving', async () => {
    expect((await get(l.port, '/nope')).status).toBe(404);
    const boom = await get(l.port, '/broken');
    expect(boom.status).toBe(500);
    expect(JSON.parse(boom.body)).toMatchObject({ code: 'internal' });
    expect((await get(l.port, '/broken/missing')).status).toBe(404);
    expect((await get(l.port, '/hello')).body).toBe('hi');
  });
});

describe('daemon http service', () => {
  const dir = mkdtempSync(join(tmpdir(), 'banger-http-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('takes a free port once and the same one after a restart', async () => {
    const portFile = join(dir, 'http-port');
    const a = createHttpService({ port: 0, portFile, mounts, log });
    expect(a.url()).toBeNull();
    const [u1, u2] = await Promise.all([a.ensure(), a.ensure()]);
    expect(u1).toBe(u2);
    const port = Number(readFileSync(portFile, 'utf8'));
    expect(u1).toBe(`http://127.0.0.1:${port}`);
    await a.close();
    const b = createHttpService({ port: 0, portFile, mounts, log });
    expect(await b.ensure()).toBe(u1);
    // A configured port that is taken is a clear error, not a crash.
    const c = createHttpService({ port, portFile: join(dir, 'other'), mounts, log });
    await expect(c.ensure()).rejects.toThrow(/free the port or set another \[http\] port/);
    await b.close();
  });
});
