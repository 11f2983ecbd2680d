/**
 * The socket server against hostile and broken clients (issue 11, items 4 and 5): the real server,
 * real dispatch and real sockets; the handlers are test handlers (the seam is the Handlers table).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../api/client.js';
import { BangerError } from '../api/errors.js';
import { WIRE_LIMITS } from '../api/wire.js';
import { silentLogger } from '../host/logger.js';
import { createDispatch, type Handlers } from './dispatch.js';
import { startServer, type CallContext } from './server.js';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the test handlers saw, and how to release the ones that wait. */
const state = {
  calls: [] as string[],
  ctx: undefined as CallContext | undefined,
  release: () => {},
  produced: 0,
};
const waitForRelease = () => new Promise<void>((r) => (state.release = r));

const handlers = new Proxy({} as Handlers, {
  get: (_t, name: string) => async (params: Record<string, unknown>, ctx: CallContext) => {
    state.calls.push(name);
    state.ctx = ctx;
    if (name === 'vm.exec' && params.argv && (params.argv as string[])[0] === 'wait') {
      // holds the call open; reads stdin only after release when it was asked for
      await waitForRelease();
      if (!params.stdin) return { exitCode: 0, signal: null };
      let n = 0;
      for await (const c of ctx.stdin) n += (c as Buffer).length;
      return { exitCode: 0, signal: null, read: n } as never;
    }
    if (name === 'vm.exec' && (params.argv as string[])[0] === 'flood') {
      // 64 MiB of output through the paced stream
      const total = 64 * MiB;
      const src = Readable.from(
        (function* () {
          for (let i = 0; i < total; i += 64 * 1024) {
            state.produced += 64 * 1024;
            yield Buffer.alloc(64 * 1024, 0x61);
          }
        })(),
      );
      await pipeline(src, ctx.output('stdout'));
      return { exitCode: 0, signal: null };
    }
    if (name === 'vm.exec' && (params.argv as string[])[0] === 'abortable') {
      await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new BangerError('unavailable', 'cancelled')), { once: true }));
    }
    if (name === 'vm.list') return [];
    return { ok: true };
  },
});

/** A raw connection: what it sends, what it got, whether it is closed. */
function raw(sockPath: string) {
  const s = connect(sockPath);
  const got = { text: '', closed: false };
  s.on('data', (d) => (got.text += d));
  s.on('error', () => {});
  const closed = new Promise<void>((r) => s.on('close', () => ((got.closed = true), r())));
  return { s, got, closed, frames: () => got.text.split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
}
const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, sleep(ms).then(() => { throw new Error(`not within ${ms} ms`); })]);
const writeAll = (s: Socket, buf: Buffer | string) =>
  new Promise<void>((r) => {
    if (s.destroyed || s.write(buf)) return r();
    s.once('drain', r);
    s.once('close', r);
  });
const request = (method: string, params: unknown) => `${JSON.stringify({ v: 1, method, params })}\n`;

describe('server limits', () => {
  const dir = mkdtempSync(join(tmpdir(), 'banger-srvlim-'));
  const sock = join(dir, 'd.sock');
  let server: Server;
  beforeAll(async () => {
    server = await startServer({ socketPath: sock, dispatch: createDispatch(handlers), log: silentLogger, limits: { requestTimeoutMs: 400, maxConnections: 4 } });
  });
  afterAll(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a frame over the cap with bad_request and closes, without reading the rest', async () => {
    const c = raw(sock);
    const big = Buffer.alloc(WIRE_LIMITS.maxRequestFrameBytes + 1, 0x61);
    c.s.write(big);
    await within(c.closed, 5000);
    expect(c.frames()).toEqual([{ error: { code: 'bad_request', message: expect.stringMatching(/longer than 1048576 bytes/) } }]);
  });

  it('closes a connection that sends no complete request in time (idle, or a request cut short)', async () => {
    const idle = raw(sock);
    const partial = raw(sock);
    partial.s.write('{"v":1,"method":"vm.li');
    await within(Promise.all([idle.closed, partial.closed]), 3000);
    for (const c of [idle, partial]) expect(c.frames()).toEqual([{ error: { code: 'bad_request', message: expect.stringMatching(/no complete request frame within 400 ms/) } }]);
    expect(await call(sock, 'vm.list', {})).toEqual([]);
  });

  it('caps concurrent connections with a clear unavailable error, and serves again once one ends', async () => {
    const held = [raw(sock), raw(sock), raw(sock), raw(sock)];
    await sleep(100);
    const extra = raw(sock);
    await within(extra.closed, 3000);
    expect(extra.frames()).toEqual([{ error: { code: 'unavailable', message: expect.stringMatching(/serving 4 connections, its limit/) } }]);
    await Promise.all(held.map((c) => within(c.closed, 3000))); // the idle ones time out
    await sleep(100); // and the server has seen them go
    expect(await call(sock, 'vm.list', {})).toEqual([]);
  });

  it('drops stdin frames to a call that takes no stdin without queueing them', async () => {
    state.calls.length = 0;
    const c = raw(sock);
    c.s.write(request('vm.exec', { name: 'x', argv: ['wait'], stdin: false }));
    const frame = `${JSON.stringify({ stdin: Buffer.alloc(192 * 1024, 1).toString('base64') })}\n`;
    for (let i = 0; i < (64 * MiB) / (192 * 1024); i++) await writeAll(c.s, frame); // all consumed: nothing pauses the socket
    await sleep(100);
    const ctx = state.ctx!;
    expect(ctx.stdin.readableLength + ctx.stdin.writableLength).toBe(0);
    expect(ctx.stdin.writableEnded).toBe(true);
    state.release();
    await within(c.closed, 3000);
    expect(c.frames().at(-1)).toEqual({ result: { exitCode: 0, signal: null } });
  });

  it('pauses the client while a stdin call does not read, then delivers every byte once it does', async () => {
    const c = raw(sock);
    c.s.write(request('vm.exec', { name: 'x', argv: ['wait'], stdin: true }));
    const chunk = Buffer.alloc(256 * 1024, 2);
    const frame = `${JSON.stringify({ stdin: chunk.toString('base64') })}\n`;
    const frames = (32 * MiB) / chunk.length;
    let sent = 0;
    const sending = (async () => {
      for (; sent < frames; sent++) await writeAll(c.s, frame);
      c.s.write('{"stdinEnd":true}\n');
    })();
    await sleep(1000);
    const ctx = state.ctx!;
    const queued = ctx.stdin.readableLength + ctx.stdin.writableLength;
    expect(queued).toBeLessThanOrEqual(2 * WIRE_LIMITS.stdinQueueBytes + 256 * 1024);
    expect(sent).toBeLessThan(frames); // the client is held back
    state.release();
    await within(sending, 20_000);
    await within(c.closed, 20_000);
    expect(c.frames().at(-1)).toEqual({ result: { exitCode: 0, signal: null, read: 32 * MiB } });
  });

  it('paces output to a client that stops reading, and delivers it all, result last, when it reads again', async () => {
    state.produced = 0;
    const c = raw(sock);
    c.s.pause();
    c.s.write(request('vm.exec', { name: 'x', argv: ['flood'] }));
    await sleep(1000);
    // socket queue (1 MiB) + the kernel's socket buffers + stream buffers: nowhere near 64 MiB
    expect(state.produced).toBeLessThan(8 * MiB);
    let bytes = 0;
    let tail = '';
    c.s.removeAllListeners('data');
    const last = await within(
      new Promise<string>((resolve) => {
        c.s.on('data', (d: Buffer) => {
          const text = tail + d.toString();
          const lines = text.split('\n');
          tail = lines.pop()!;
          for (const l of lines) {
            const f = JSON.parse(l);
            if (f.stream) bytes += Buffer.from(f.data, 'base64').length;
            else resolve(l);
          }
        });
        c.s.resume();
      }),
      30_000,
    );
    expect(bytes).toBe(64 * MiB);
    expect(JSON.parse(last)).toEqual({ result: { exitCode: 0, signal: null } });
  });

  it('the client splits a large stdin chunk into frames under the cap (an SDK caller may hand over one big Buffer)', async () => {
    const p = call(sock, 'vm.exec', { name: 'x', argv: ['wait'], stdin: true }, { stdin: Readable.from([Buffer.alloc(5 * MiB, 3)]) });
    await sleep(200);
    state.release();
    expect(await p).toEqual({ exitCode: 0, signal: null, read: 5 * MiB });
  });

  it('does not start a call when a frame that came with the request does not parse (item 5)', async () => {
    state.calls.length = 0;
    for (const junk of ['this is not json\n', '{"colour":"red"}\n', `${JSON.stringify({ v: 1, method: 'vm.list', params: {} })}\n`]) {
      const c = raw(sock);
      c.s.write(request('vm.create', { name: 'made' }) + junk);
      await within(c.closed, 3000);
      expect(c.frames()).toEqual([{ error: { code: 'bad_request', message: expect.stringMatching(/^malformed frame after the request/) } }]);
    }
    expect(state.calls).toEqual([]);
  });

  it('once a call started, a later malformed line never replaces its answer: ignored for a call without stdin, cancels a stdin call', async () => {
    state.calls.length = 0;
    const a = raw(sock);
    a.s.write(request('vm.exec', { name: 'x', argv: ['wait'], stdin: false }));
    await sleep(100);
    a.s.write('garbage\n');
    await sleep(100);
    state.release();
    await within(a.closed, 3000);
    expect(a.frames()).toEqual([{ result: { exitCode: 0, signal: null } }]);

    const b = raw(sock);
    b.s.write(request('vm.exec', { name: 'x', argv: ['abortable'], stdin: true }));
    await sleep(100);
    b.s.write('garbage\n');
    await within(b.closed, 3000);
    expect(b.frames()).toEqual([{ error: { code: 'bad_request', message: expect.stringMatching(/^malformed frame after the request: not JSON/) } }]);
    expect(state.calls).toEqual(['vm.exec', 'vm.exec']);
  });

  it('fuzz: random, garbage, huge and split frames from many clients never take the server down (bounded time)', async () => {
    let seed = 0x9e3779b9;
    const rand = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const pieces = [
      () => Buffer.from(request('vm.list', {})),
      () => Buffer.from(request(rand(2) ? 'vm.exec' : 'vm.nope', { name: 'x', argv: ['flood'].slice(rand(2)), stdin: !!rand(2) })),
      () => Buffer.from(`${JSON.stringify({ stdin: randomBytes(rand(4096)).toString('base64') })}\n`),
      () => Buffer.from('{"stdinEnd":true}\n'),
      () => randomBytes(rand(4096)),
      () => Buffer.alloc(rand(2 * WIRE_LIMITS.maxRequestFrameBytes), 0x5b),
      () => Buffer.from(['{', '}', '[', ']', '"', '\\', ':', ',', '\n', 'null', '1e999', '"v":1'][rand(12)].repeat(1 + rand(64))),
    ];
    const t0 = performance.now();
    let worstMs = 0;
    let answered = 0;
    for (let round = 0; round < 12; round++) {
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          const c = raw(sock);
          const start = performance.now();
          const parts = Array.from({ length: 1 + rand(6) }, () => pieces[rand(pieces.length)]());
          const bytes = Buffer.concat(parts);
          for (let i = 0; i < bytes.length && !c.got.closed; ) {
            const n = 1 + rand(64 * 1024);
            await writeAll(c.s, bytes.subarray(i, i + n));
            i += n;
          }
          if (!c.got.closed) c.s.end();
          await within(c.closed, 15_000);
          worstMs = Math.max(worstMs, performance.now() - start);
          // whatever came back is frames, with at most one result or error, and it is the last
          const lines = c.got.text.split('\n').filter(Boolean);
          const finals = lines.map((l) => JSON.parse(l)).filter((f) => 'result' in f || 'error' in f);
          expect(finals.length).toBeLessThanOrEqual(1);
          if (finals.length) answered++;
        }),
      );
    }
    console.log(`server fuzz: 48 connections in ${((performance.now() - t0) / 1000).toFixed(1)} s, worst ${worstMs.toFixed(0)} ms, ${answered} answered`);
    expect(await call(sock, 'vm.list', {})).toEqual([]);
  }, 120_000);
});
