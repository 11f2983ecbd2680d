/**
 * The web UI's access rules over real HTTP against a real daemon (no guest): the one-time login
 * link, the cookie, CSRF on POST, Host and Origin checks, and the WebSocket Origin check.
 */
import { mkdtempSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { makeInstall, type Install } from '../../test/install.fixture.js';

let inst: Install;
let base: URL;
let loginUrl: URL;

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}
function http(method: string, path: string, headers: Record<string, string> = {}, body?: string, firstBytes = false): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: Number(base.port), path, method, headers: { host: base.host, ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => {
        text += d;
        if (firstBytes) (res.destroy(), resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function newLogin(): Promise<string> {
  const r = await inst.cli(['ui'], { check: true });
  return new URL(r.stdout.trim()).pathname + new URL(r.stdout.trim()).search;
}
async function session(): Promise<{ cookie: string; csrf: string }> {
  const r = await http('GET', await newLogin());
  const cookie = String(r.headers['set-cookie']).split(';')[0]!;
  const page = await http('GET', '/ui/', { cookie });
  const csrf = /name="banger-csrf" content="([^"]+)"/.exec(page.body)![1]!;
  return { cookie, csrf };
}

beforeAll(async () => {
  inst = makeInstall(mkdtempSync('/tmp/bt-ui-'));
  const r = await inst.cli(['ui'], { check: true });
  loginUrl = new URL(r.stdout.trim());
  base = new URL(loginUrl.origin);
}, 120_000);
afterAll(async () => {
  await inst?.destroy();
});

describe('web UI access', () => {
  it('banger ui prints a loopback URL with a one-time token; the secret file is 0600', () => {
    expect(loginUrl.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(loginUrl.pathname).toBe('/ui/login');
    expect(loginUrl.searchParams.get('token')).toMatch(/^[\w-]{32}$/);
    expect(statSync(join(inst.stateDir, 'ui-secret')).mode & 0o777).toBe(0o600);
  });

  it('without the cookie: 401 and no data, on every path', async () => {
    for (const [m, p] of [
      ['GET', '/ui/'],
      ['GET', '/ui/events'],
      ['GET', '/ui/assets/app.js'],
      ['POST', '/ui/api/vm.list'],
    ] as const) {
      const r = await http(m, p);
      expect(r.status, `${m} ${p}`).toBe(401);
      expect(r.body).not.toMatch(/vms|banger-csrf|function/);
    }
    // a cookie signed with something else is no cookie
    expect((await http('GET', '/ui/', { cookie: 'banger_ui=AAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })).status).toBe(401);
  });

  it('the token becomes an HttpOnly SameSite=Strict cookie and a redirect to the clean URL, once', async () => {
    const path = loginUrl.pathname + loginUrl.search;
    const r = await http('GET', path);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/ui/');
    const set = String(r.headers['set-cookie']);
    expect(set).toMatch(/^banger_ui=[\w-]+\.[\w-]+; HttpOnly; SameSite=Strict; Path=\/ui$/);
    const again = await http('GET', path);
    expect(again.status).toBe(401);
    expect(again.headers['set-cookie']).toBeUndefined();
    const page = await http('GET', '/ui/', { cookie: set.split(';')[0]! });
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/<meta name="banger-csrf" content="[\w-]{43}">/);
    expect(String(page.headers['content-security-policy'])).toContain("default-src 'none'");
  });

  it('a forged Host is refused even with a valid cookie (DNS rebinding)', async () => {
    const { cookie } = await session();
    const r = await http('GET', '/ui/', { cookie, host: `evil.example:${base.port}` });
    expect(r.status).toBe(421);
    expect(r.body).not.toContain('banger-csrf');
  });

  it('a POST needs the CSRF token and a same-origin Origin; then runs the method through dispatch', async () => {
    const { cookie, csrf } = await session();
    const noCsrf = await http('POST', '/ui/api/vm.list', { cookie, 'content-type': 'application/json', origin: 'http://evil.example' }, '{}');
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body).not.toContain('"vms"');
    const wrong = await http('POST', '/ui/api/vm.list', { cookie, 'x-banger-csrf': csrf.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) }, '{}');
    expect(wrong.status).toBe(403);
    const crossSite = await http('POST', '/ui/api/vm.list', { cookie, 'x-banger-csrf': csrf, origin: 'http://evil.example' }, '{}');
    expect(crossSite.status).toBe(403);
    const ok = await http('POST', '/ui/api/vm.list', { cookie, 'x-banger-csrf': csrf, origin: base.origin }, '{}');
    expect(ok.status).toBe(200);
    expect(ok.body.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ result: { vms: [] } }]);
    // the method's own schema validates, and the error is banger's own message
    const bad = await http('POST', '/ui/api/vm.start', { cookie, 'x-banger-csrf': csrf }, '{"name":"nope","extra":1}');
    expect(JSON.parse(bad.body.trim())).toMatchObject({ error: { code: 'bad_request', message: expect.stringMatching(/^vm\.start: /) } });
    const missing = await http('POST', '/ui/api/vm.start', { cookie, 'x-banger-csrf': csrf }, '{"name":"nope"}');
    expect(JSON.parse(missing.body.trim())).toMatchObject({ error: { code: 'not_found', message: expect.stringContaining('nope') } });
    // methods the UI does not use are not reachable
    expect((await http('POST', '/ui/api/daemon.stop', { cookie, 'x-banger-csrf': csrf }, '{}')).status).toBe(404);
  });

  it('the doctor page runs `banger doctor`\'s own list (and needs the CSRF token)', async () => {
    const { cookie, csrf } = await session();
    expect((await http('POST', '/ui/doctor', { cookie })).status).toBe(403);
    const r = await http('POST', '/ui/doctor', { cookie, 'x-banger-csrf': csrf });
    expect(r.status).toBe(200);
    const names = (JSON.parse(r.body) as Array<{ name: string; verdict: string }>).map((c) => c.name);
    const cli = JSON.parse((await inst.cli(['doctor', '--json'])).stdout) as Array<{ name: string }>;
    expect(names).toEqual(cli.map((c) => c.name));
    expect(names).toContain('daemon');
  });

  it('the event stream starts with the whole VM list', async () => {
    const { cookie } = await session();
    const r = await http('GET', '/ui/events', { cookie }, undefined, true);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/event-stream');
    expect(r.body).toContain('event: vms\ndata: {"type":"vms","vms":[]}');
  });

  it('a WebSocket upgrade needs the cookie and a same-origin Origin', async () => {
    const { cookie } = await session();
    const open = (headers: Record<string, string>) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${base.port}/ui/ws/term/nope?rows=24&cols=80`, { headers });
        ws.on('unexpected-response', (_q, res) => resolve(`refused ${res.statusCode}`));
        ws.on('message', (d) => resolve(String(d)));
        ws.on('error', (e) => resolve(`error ${e.message}`));
      });
    expect(await open({ cookie, origin: 'http://evil.example' })).toBe('refused 403');
    expect(await open({ cookie, origin: `http://localhost.evil.example:${base.port}` })).toBe('refused 403');
    expect(await open({ cookie })).toBe('refused 403'); // no Origin: not a page of ours
    expect(await open({ origin: base.origin })).toBe('refused 401');
    // accepted: the terminal then says why it cannot attach, in banger's words
    expect(JSON.parse(await open({ cookie, origin: base.origin }))).toMatchObject({ type: 'error', message: expect.stringContaining('"nope" not found') });
  });
});
