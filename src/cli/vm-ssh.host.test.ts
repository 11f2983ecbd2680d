/**
 * `vm ssh` against a forged daemon answer, through the real CLI and the real ssh client. The test
 * double is the daemon at its socket (the named seam): it answers `vm.sshInfo` with a user of
 * `-oProxyCommand=…`. The CLI must refuse before ssh runs, so the command never runs on the host.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineDecoder } from '../api/wire.js';
import { makeInstall, type Install } from '../../test/install.fixture.js';

let inst: Install;
let fake: Server;
let mark: string;

beforeAll(async () => {
  inst = makeInstall(mkdtempSync('/tmp/bs-'));
  inst.env.BANGER_NO_SYSTEM = '1';
  mark = join(inst.root, 'pwned');
  mkdirSync(inst.runtimeDir, { recursive: true, mode: 0o700 });
  const answers: Record<string, unknown> = {
    'daemon.status': { pid: process.pid },
    'vm.sshInfo': {
      name: 'web',
      host: '127.0.0.1',
      port: 22,
      user: `-oProxyCommand=touch ${mark};`,
      keyPath: join(inst.root, 'key'),
      knownHostsPath: join(inst.root, 'known_hosts'),
      hostKeyAlias: 'web.vm',
      cwd: null,
    },
  };
  fake = createServer((c) => {
    const d = new LineDecoder();
    c.on('error', () => {});
    c.on('data', (chunk) => {
      for (const line of d.push(chunk)) {
        const { method } = JSON.parse(line) as { method: string };
        c.end(`${JSON.stringify(method in answers ? { result: answers[method] } : { error: { code: 'not_found', message: method } })}\n`);
      }
    });
  });
  await new Promise<void>((res) => fake.listen(join(inst.runtimeDir, 'bangerd.sock'), res));
});
afterAll(() => {
  fake?.close();
  if (inst) rmSync(inst.root, { recursive: true, force: true });
});

describe('vm ssh with a forged answer from the daemon', () => {
  it('refuses a user that ssh would read as an option; the ProxyCommand never runs', async () => {
    const r = await inst.cli(['vm', 'ssh', 'web', '--', 'true'], { timeoutMs: 30_000 });
    await new Promise((res) => setTimeout(res, 500));
    expect(existsSync(mark)).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unusable ssh user "-oProxyCommand=touch .*" \(expected a login name like root\); refusing to run ssh/);
  });
});
