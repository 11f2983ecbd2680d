/**
 * The wire against a real bangerd on an isolated install (no VM), issue 11 item 5: a request whose
 * frames do not all parse must not act. `daemon.stop` is the cheap call with a visible side effect.
 */
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../api/client.js';
import { makeInstall, type Install } from '../../test/install.fixture.js';

let inst: Install;
let sock: string;
beforeAll(async () => {
  inst = makeInstall(mkdtempSync(join(tmpdir(), 'banger-wire-')));
  sock = join(inst.runtimeDir, 'bangerd.sock');
  expect((await inst.cli(['daemon', 'status'])).code).toBe(0);
}, 60_000);
afterAll(async () => {
  await inst?.destroy();
});

/** Sends raw bytes in one write and returns the frames the daemon answered with. */
function exchange(text: string): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const s = connect(sock, () => s.write(text));
    let buf = '';
    s.on('data', (d) => (buf += d));
    s.on('error', reject);
    s.on('close', () => resolve(buf.split('\n').filter(Boolean).map((l) => JSON.parse(l))));
  });
}

describe('a request that does not fully parse does not act', () => {
  it('daemon.stop followed by a non-JSON line: refused with bad_request, and the daemon keeps running', async () => {
    const before = await call(sock, 'daemon.status', {});
    const frames = await exchange(`${JSON.stringify({ v: 1, method: 'daemon.stop', params: {} })}\nthis is not json\n`);
    expect(frames).toEqual([{ error: { code: 'bad_request', message: expect.stringMatching(/^malformed frame after the request: not JSON/) } }]);
    await new Promise((r) => setTimeout(r, 500)); // daemon.stop exits 50 ms after answering
    expect((await call(sock, 'daemon.status', {})).pid).toBe(before.pid);
  });

  it('daemon.stop followed by a frame of the wrong shape: the same', async () => {
    const before = await call(sock, 'daemon.status', {});
    const frames = await exchange(`${JSON.stringify({ v: 1, method: 'daemon.stop', params: {} })}\n{"signal":"KILL"}\n`);
    expect(frames).toEqual([{ error: { code: 'bad_request', message: expect.stringMatching(/^malformed frame after the request/) } }]);
    await new Promise((r) => setTimeout(r, 500));
    expect((await call(sock, 'daemon.status', {})).pid).toBe(before.pid);
  });

  it('a frame over the cap is refused with bad_request and the daemon stays up', async () => {
    const frames = await exchange(`{"v":1,"method":"vm.list","params":{"x":"${'a'.repeat(2 * 1024 * 1024)}"}}\n`);
    expect(frames).toEqual([{ error: { code: 'bad_request', message: expect.stringMatching(/longer than 1048576 bytes/) } }]);
    expect(await call(sock, 'vm.list', {})).toEqual({ vms: [] });
  });
});
