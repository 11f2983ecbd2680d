/**
 * `banger serve` and `[e2b] enabled` through the real CLI and daemon (no VMs): the listener starts
 * with the daemon when configured, `serve --print-env` prints what the SDK reads with the 0600 key,
 * and the endpoint refuses a wrong key and foreign Host headers.
 */
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeInstall, type Install } from '../../test/install.fixture.js';

let inst: Install | null = null;
afterEach(async () => {
  await inst?.destroy();
  inst = null;
});

function installWith(config: string): Install {
  const i = makeInstall(mkdtempSync('/tmp/be-'));
  mkdirSync(join(i.root, 'config', 'banger'), { recursive: true });
  writeFileSync(join(i.root, 'config', 'banger', 'config.toml'), config);
  return i;
}

function get(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, headers: { host: u.host, ...headers } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('banger serve', () => {
  it('[e2b] enabled starts the listener with the daemon; --print-env gives the URL twice and the 0600 key', async () => {
    inst = installWith('[e2b]\nenabled = true\n');
    const status = JSON.parse((await inst.cli(['daemon', 'status', '--json'], { check: true })).stdout) as { http: string | null };
    let url = status.http;
    for (let i = 0; !url && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      url = (JSON.parse((await inst.cli(['daemon', 'status', '--json'], { check: true })).stdout) as { http: string | null }).http;
    }
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const env = (await inst.cli(['serve', '--print-env'], { check: true })).stdout.trim().split('\n');
    const key = env[2]!.replace('export E2B_API_KEY=', '');
    expect(env).toEqual([`export E2B_API_URL=${url}`, `export E2B_SANDBOX_URL=${url}`, `export E2B_API_KEY=${key}`]);
    expect(key).toMatch(/^e2b_[0-9a-f]{40}$/);
    expect(statSync(join(inst.stateDir, 'e2b-api-key')).mode & 0o777).toBe(0o600);
    const ok = await get(`${url}/v2/sandboxes`, { 'x-api-key': key });
    expect(ok).toEqual({ status: 200, body: '[]' });
    const bad = await get(`${url}/v2/sandboxes`, { 'x-api-key': 'e2b_wrong' });
    expect(bad.status).toBe(401);
    expect(JSON.parse(bad.body)).toMatchObject({ code: 401 });
    expect((await get(`${url}/v2/sandboxes`, { 'x-api-key': key, host: 'evil.example' })).status).toBe(421);
  });

  it('without [e2b] the listener waits for `banger serve`, which prints its URL', async () => {
    inst = installWith('');
    const before = JSON.parse((await inst.cli(['daemon', 'status', '--json'], { check: true })).stdout) as { http: string | null };
    expect(before.http).toBeNull();
    const url = (await inst.cli(['serve'], { check: true })).stdout.trim();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await get(`${url}/health`, {})).status).toBe(502); // no sandbox named: E2B's "sandbox is gone"
  });
});
