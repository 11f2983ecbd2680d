import { createServer as createHttp } from 'node:http';
import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { answersHttp } from './httpprobe.js';
import { freePort } from './ports.js';

const servers: Server[] = [];
const listen = (s: Server) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as { port: number }).port)));
afterAll(() => servers.forEach((s) => s.close()));

describe('answersHttp', () => {
  it('is true for an HTTP server, whatever its status', async () => {
    const s = createHttp((_q, res) => res.writeHead(404).end());
    servers.push(s);
    expect(await answersHttp('127.0.0.1', await listen(s))).toBe(true);
  });

  it('is false for a server that greets with something else, one that says nothing, and a closed port', async () => {
    const ssh = createServer((c) => c.end('SSH-2.0-OpenSSH_9.2\r\n'));
    const mute = createServer(() => {});
    servers.push(ssh, mute);
    expect(await answersHttp('127.0.0.1', await listen(ssh))).toBe(false);
    const t0 = Date.now();
    expect(await answersHttp('127.0.0.1', await listen(mute), 300)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(await answersHttp('127.0.0.1', await freePort())).toBe(false);
  });
});
