// Protocol tests against a fake QMP server on a unix socket (the seam the task names); the real
// QEMU is exercised in driver.vm.test.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BangerError } from '../../api/errors.js';
import { QmpClient, QmpDecoder, withQmp } from './qmp.js';

const GREETING = { QMP: { version: { qemu: { major: 7, minor: 2, micro: 22 }, package: 'Debian' }, capabilities: ['oob'] } };

describe('QmpDecoder', () => {
  it('splits CRLF-terminated messages across chunks', () => {
    const d = new QmpDecoder();
    const text = JSON.stringify(GREETING) + '\r\n' + JSON.stringify({ return: {}, id: 1 }) + '\r\n' + '{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}\r\n';
    const cut = 30;
    expect(d.push(text.slice(0, cut))).toEqual([]);
    const msgs = d.push(text.slice(cut));
    expect(msgs).toHaveLength(3);
    expect(msgs[0]).toHaveProperty('QMP');
    expect(msgs[1]).toEqual({ return: {}, id: 1 });
    expect(msgs[2]).toMatchObject({ event: 'STOP' });
  });
  it('rejects garbage', () => {
    expect(() => new QmpDecoder().push('not json\n')).toThrow(/not JSON/);
    expect(() => new QmpDecoder().push('{"hello": 1}\n')).toThrow(/unexpected message/);
  });
});

type Handler = (cmd: { execute: string; arguments?: Record<string, unknown>; id?: unknown }, sock: Socket) => void;

describe('QmpClient against a fake server', () => {
  let dir: string;
  let server: Server;
  let socketPath: string;
  let handler: Handler;
  let connections: number;
  let greet: boolean;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'banger-qmp-'));
    socketPath = join(dir, 'qmp.sock');
    connections = 0;
    greet = true;
    handler = (cmd, sock) => reply(sock, { return: {}, id: cmd.id });
    server = createServer((sock) => {
      connections++;
      if (greet) reply(sock, GREETING);
      let buf = '';
      sock.on('data', (d) => {
        buf += d.toString();
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const cmd = JSON.parse(line);
          if (cmd.execute === 'qmp_capabilities') reply(sock, { return: {}, id: cmd.id });
          else handler(cmd, sock);
        }
      });
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(socketPath, r));
  });
  afterEach(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  function reply(sock: Socket, msg: unknown) {
    sock.write(JSON.stringify(msg) + '\r\n');
  }

  it('negotiates and correlates replies by id, even out of order', async () => {
    const held: Array<() => void> = [];
    handler = (cmd, sock) => {
      if (cmd.execute === 'slow') held.push(() => reply(sock, { return: { which: 'slow' }, id: cmd.id }));
      else {
        reply(sock, { return: { which: cmd.execute, args: cmd.arguments ?? null }, id: cmd.id });
        held.forEach((f) => f());
      }
    };
    await withQmp(socketPath, async (qmp) => {
      expect(qmp.greeting.QMP.version.qemu).toEqual({ major: 7, minor: 2, micro: 22 });
      const slow = qmp.execute('slow');
      const fast = qmp.execute('query-status', { a: 1 });
      expect(await fast).toEqual({ which: 'query-status', args: { a: 1 } });
      expect(await slow).toEqual({ which: 'slow' });
    });
    expect(connections).toBe(1);
  });

  it('maps QMP errors to BangerError with the class kept', async () => {
    handler = (cmd, sock) => reply(sock, { error: { class: 'CommandNotFound', desc: `The command ${cmd.execute} has not been found` }, id: cmd.id });
    const err = await withQmp(socketPath, (qmp) => qmp.execute('nope')).catch((e) => e);
    expect(err).toBeInstanceOf(BangerError);
    expect(err.code).toBe('unavailable');
    expect(err.message).toBe('QEMU refused nope: The command nope has not been found');
    expect(err.details).toEqual({ qmpClass: 'CommandNotFound', command: 'nope' });
  });

  it('delivers events and waitForEvent filters them', async () => {
    handler = (cmd, sock) => {
      reply(sock, { event: 'STOP', timestamp: { seconds: 1, microseconds: 0 } });
      reply(sock, { event: 'MIGRATION', data: { status: 'active' }, timestamp: { seconds: 1, microseconds: 1 } });
      reply(sock, { return: {}, id: cmd.id });
      reply(sock, { event: 'MIGRATION', data: { status: 'completed' }, timestamp: { seconds: 2, microseconds: 0 } });
    };
    await withQmp(socketPath, async (qmp) => {
      const seen: string[] = [];
      const off = qmp.onEvent((e) => seen.push(e.event));
      const done = qmp.waitForEvent('MIGRATION', { timeoutMs: 2000, match: (e) => e.data?.status === 'completed' });
      await qmp.execute('migrate', { uri: 'exec:true' });
      expect((await done).data).toEqual({ status: 'completed' });
      off();
      expect(seen).toEqual(['STOP', 'MIGRATION', 'MIGRATION']);
    });
  });

  it('times out a command QEMU never answers', async () => {
    handler = () => {};
    const err = await withQmp(socketPath, (qmp) => qmp.execute('hang', undefined, { timeoutMs: 100 })).catch((e) => e);
    expect(err).toBeInstanceOf(BangerError);
    expect(err.message).toMatch(/did not answer hang within 100 ms/);
  });

  it('times out when no greeting arrives (another client holds the socket)', async () => {
    greet = false;
    const err = await QmpClient.connect(socketPath, { timeoutMs: 150 }).catch((e) => e);
    expect(err).toBeInstanceOf(BangerError);
    expect(err.message).toMatch(/did not greet/);
  });

  it('rejects pending commands and event waits when QEMU goes away', async () => {
    handler = (_cmd, sock) => sock.destroy();
    const qmp = await QmpClient.connect(socketPath);
    const wait = qmp.waitForEvent('SHUTDOWN', { timeoutMs: 5000 });
    const err = await qmp.execute('quit').catch((e) => e);
    expect(err).toBeInstanceOf(BangerError);
    expect(err.code).toBe('unavailable');
    expect(err.message).toMatch(/closed/);
    await expect(wait).rejects.toMatchObject({ code: 'unavailable' });
    expect(qmp.isClosed).toBe(true);
    await expect(qmp.execute('query-status')).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('reports a missing socket as unavailable', async () => {
    const err = await QmpClient.connect(join(dir, 'missing.sock')).catch((e) => e);
    expect(err).toBeInstanceOf(BangerError);
    expect(err.code).toBe('unavailable');
    expect(err.message).toMatch(/ENOENT.*is the VM running/);
  });
});
