/** A minimal UDP DNS client: one A query to one server (self-checks, tests, bench). */
import { createSocket } from 'node:dgram';
import { decode, encode, RECURSION_DESIRED } from 'dns-packet';
import { BangerError } from '../api/errors.js';

export interface QueryResult {
  rcode: string;
  authoritative: boolean;
  addresses: string[];
}

export function queryA(server: { host: string; port: number }, name: string, timeoutMs = 2000): Promise<QueryResult> {
  const id = Math.floor(Math.random() * 65536);
  const msg = encode({ type: 'query', id, flags: RECURSION_DESIRED, questions: [{ type: 'A', name }] });
  const sock = createSocket(server.host.includes(':') ? 'udp6' : 'udp4');
  return new Promise((resolve, reject) => {
    const done = (fn: () => void) => {
      clearTimeout(timer);
      sock.close();
      fn();
    };
    const timer = setTimeout(
      () => done(() => reject(new BangerError('unavailable', `no DNS answer from ${server.host}:${server.port} within ${timeoutMs} ms`))),
      timeoutMs,
    );
    sock.on('error', (err) => done(() => reject(new BangerError('unavailable', `DNS query to ${server.host}:${server.port} failed: ${err.message}`))));
    sock.on('message', (buf) => {
      let p;
      try {
        p = decode(buf);
      } catch {
        return; // not ours / garbage: keep waiting
      }
      if (p.id !== id) return;
      done(() =>
        resolve({
          rcode: (p as { rcode?: string }).rcode ?? 'NOERROR',
          authoritative: p.flag_aa,
          addresses: (p.answers ?? []).filter((a) => a.type === 'A').map((a) => String((a as { data: unknown }).data)),
        }),
      );
    });
    sock.send(msg, server.port, server.host);
  });
}
