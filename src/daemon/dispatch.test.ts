import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../api/client.js';
import { BangerError } from '../api/errors.js';
import { methods } from '../api/methods.js';
import { silentLogger } from '../host/logger.js';
import { createDispatch, type Handlers } from './dispatch.js';
import { startServer, type CallContext } from './server.js';

const ctx = (): CallContext => ({ progress: () => {}, signal: new AbortController().signal, stdin: new PassThrough(), write: () => {}, output: () => new PassThrough() });

const seen: unknown[] = [];
const handlers = new Proxy({} as Handlers, {
  get: (_t, name: string) => async (params: unknown, c: CallContext) => {
    seen.push({ name, params });
    if (name === 'vm.show') throw new BangerError('not_found', 'VM "x" not found');
    if (name === 'vm.exec') {
      c.progress('exec', 'starting');
      c.write('stdout', Buffer.from('out'));
      c.write('stderr', Buffer.from('err'));
      const chunks: Buffer[] = [];
      for await (const chunk of c.stdin) chunks.push(chunk as Buffer);
      c.write('stdout', Buffer.concat(chunks));
      return { exitCode: 3, signal: null };
    }
    if (name === 'vm.list') return [];
    return { ok: true };
  },
});

describe('dispatch', () => {
  const dispatch = createDispatch(handlers);
  it('refuses an unknown method with bad_request naming it', async () => {
    await expect(dispatch('vm.explode', {}, ctx())).rejects.toMatchObject({ code: 'bad_request', message: expect.stringContaining('vm.explode') });
  });
  it('validates params with the method schema and names the field', async () => {
    await expect(dispatch('vm.create', { name: 'Bad_Name' }, ctx())).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/name: names are/) });
    await expect(dispatch('vm.create', { colour: 'red' }, ctx())).rejects.toMatchObject({ code: 'bad_request' });
  });
  it('passes parsed params with defaults applied to the handler', async () => {
    seen.length = 0;
    await dispatch('vm.create', { name: 'ok-1' }, ctx());
    expect(seen[0]).toMatchObject({ name: 'vm.create', params: { name: 'ok-1', start: true, egress: true, waitForSsh: true } });
    // network and nat stay absent: the VM service resolves them from the host (hypervisor/choice.ts vmNetworkFor).
    expect((seen[0] as { params: Record<string, unknown> }).params.network).toBeUndefined();
  });
  it('has a schema for every method name it routes', () => {
    for (const [name, m] of Object.entries(methods)) {
      expect(m.params, name).toBeDefined();
      expect(m.result, name).toBeDefined();
    }
  });
});

describe('socket server and client', () => {
  const dir = mkdtempSync(join(tmpdir(), 'banger-srv-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const sock = join(dir, 'd.sock');
  const ready = startServer({ socketPath: sock, dispatch: createDispatch(handlers), log: silentLogger });

  it('creates the socket owner-only', async () => {
    await ready;
    expect(statSync(sock).mode & 0o777).toBe(0o600);
  });
  it('round-trips results, errors with their code, progress, output streams and stdin', async () => {
    await ready;
    expect(await call(sock, 'vm.list', {})).toEqual([]);
    await expect(call(sock, 'vm.show', { name: 'x' })).rejects.toMatchObject({ code: 'not_found', message: 'VM "x" not found' });
    const out: string[] = [];
    const progress: string[] = [];
    const stdin = new PassThrough();
    const p = call(sock, 'vm.exec', { name: 'x', argv: ['cat'], stdin: true }, { stdin, onStream: (s, d) => out.push(`${s}:${d}`), onProgress: (e) => progress.push(e.stage) });
    stdin.end('piped-in');
    expect(await p).toEqual({ exitCode: 3, signal: null });
    expect(out).toEqual(['stdout:out', 'stderr:err', 'stdout:piped-in']);
    expect(progress).toEqual(['exec']);
  });
  it('answers a frame that is not JSON with bad_request instead of crashing', async () => {
    await ready;
    const { connect } = await import('node:net');
    const reply = await new Promise<string>((resolve) => {
      const s = connect(sock, () => s.write('this is not json\n'));
      let buf = '';
      s.on('data', (d) => (buf += d));
      s.on('close', () => resolve(buf));
    });
    expect(JSON.parse(reply)).toMatchObject({ error: { code: 'bad_request' } });
    expect(await call(sock, 'vm.list', {})).toEqual([]);
  });
  it('reports an unreachable daemon as unavailable', async () => {
    await expect(call(join(dir, 'none.sock'), 'vm.list', {})).rejects.toMatchObject({ code: 'unavailable' });
  });
});
