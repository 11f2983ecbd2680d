import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { decode, encode } from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../host/logger.js';
import { answer, startDnsServer, type DnsServer } from './dns.js';
import { queryA } from './dns-query.js';

const records = new Map([
  ['web', '172.30.0.7'],
  ['api', '127.0.0.1'],
]);
const lookup = (n: string) => records.get(n);

function ask(name: string, type: string = 'A', extra: Record<string, unknown> = {}) {
  const q = encode({ type: 'query', id: 4242, flags: 0, questions: [{ type: type as 'A', name, class: 'IN' }], ...extra });
  const out = answer(q, lookup);
  return out ? (decode(out) as ReturnType<typeof decode> & { rcode: string }) : null;
}

describe('answer (pure)', () => {
  it.each([
    ['web.vm', 'A', 'NOERROR', ['172.30.0.7']],
    ['WEB.VM.', 'A', 'NOERROR', ['172.30.0.7']],
    ['api.vm', 'ANY', 'NOERROR', ['127.0.0.1']],
    ['web.vm', 'AAAA', 'NOERROR', []],
    ['ghost.vm', 'A', 'NXDOMAIN', []],
    ['ghost.vm', 'AAAA', 'NXDOMAIN', []],
    ['sub.web.vm', 'A', 'NXDOMAIN', []],
    ['vm', 'SOA', 'NOERROR', []],
    ['example.com', 'A', 'REFUSED', []],
    ['notvm', 'A', 'REFUSED', []],
  ])('%s %s → %s %j', (name, type, rcode, ips) => {
    const r = ask(name, type)!;
    expect(r.id).toBe(4242);
    expect(r.type).toBe('response');
    expect(r.rcode).toBe(rcode);
    expect(r.flag_aa).toBe(true);
    expect(r.answers!.filter((a) => a.type === 'A').map((a) => a.data)).toEqual(ips);
  });

  it('answers the zone apex SOA and puts the SOA in negative answers', () => {
    expect(ask('vm', 'SOA')!.answers![0]).toMatchObject({ type: 'SOA', name: 'vm' });
    expect(ask('ghost.vm')!.authorities![0]).toMatchObject({ type: 'SOA' });
  });

  it('copies RD and ignores responses and garbage', () => {
    const q = encode({ type: 'query', id: 1, flags: 1 << 8, questions: [{ type: 'A', name: 'web.vm' }] });
    expect(decode(answer(q, lookup)!).flag_rd).toBe(true);
    const resp = encode({ type: 'response', id: 1, questions: [{ type: 'A', name: 'web.vm' }] });
    expect(answer(resp, lookup)).toBeNull();
    expect(answer(Buffer.alloc(0), lookup)).toBeNull();
    expect(answer(Buffer.from('hello world, not dns'), lookup)).toBeNull();
  });

  it('refuses other opcodes and several questions', () => {
    const two = encode({ type: 'query', id: 2, questions: [{ type: 'A', name: 'web.vm' }, { type: 'A', name: 'api.vm' }] });
    expect((decode(answer(two, lookup)!) as { rcode?: string }).rcode).toBe('FORMERR');
    const notify = encode({ type: 'query', id: 3, flags: 4 << 11, questions: [{ type: 'A', name: 'web.vm' }] });
    expect((decode(answer(notify, lookup)!) as { rcode?: string }).rcode).toBe('NOTIMP');
  });

  it('never throws on random or mutated input', () => {
    const valid = encode({ type: 'query', id: 9, questions: [{ type: 'A', name: 'web.vm' }] });
    const thrown: string[] = [];
    let replies = 0;
    for (let i = 0; i < 20_000; i++) {
      const buf = i % 2 ? randomBytes(Math.floor(Math.random() * 80)) : Buffer.from(valid);
      if (i % 2 === 0) for (let j = 0; j < 3; j++) buf[Math.floor(Math.random() * buf.length)] = Math.floor(Math.random() * 256);
      try {
        if (answer(buf, lookup)) replies++;
      } catch (err) {
        thrown.push(`${buf.toString('hex')}: ${(err as Error).message}`);
      }
    }
    expect(thrown).toEqual([]);
    expect(replies).toBeGreaterThan(0); // mutated valid queries still get answers
  });
});

describe('the UDP server on loopback', () => {
  let srv: DnsServer;
  beforeAll(async () => {
    srv = await startDnsServer({ host: '127.0.0.1', port: 0, log: silentLogger });
    srv.setRecords(records);
  });
  afterAll(async () => {
    await srv?.close();
  });

  it("answers node's own resolver: A records for VMs, NXDOMAIN for unknown names", async () => {
    const r = new Resolver({ timeout: 2000, tries: 1 });
    r.setServers([`127.0.0.1:${srv.address().port}`]);
    expect(await r.resolve4('web.vm')).toEqual(['172.30.0.7']);
    await expect(r.resolve4('ghost.vm')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('follows record changes at once', async () => {
    const at = srv.address();
    srv.setRecords(new Map([['fresh', '172.30.0.9']]));
    expect(await queryA(at, 'fresh.vm')).toEqual({ rcode: 'NOERROR', authoritative: true, addresses: ['172.30.0.9'] });
    expect((await queryA(at, 'web.vm')).rcode).toBe('NXDOMAIN');
    srv.setRecords(records);
    expect((await queryA(at, 'web.vm')).addresses).toEqual(['172.30.0.7']);
  });

  it('survives a flood of random datagrams and keeps answering', async () => {
    const at = srv.address();
    const sock = createSocket('udp4');
    const replies: Buffer[] = [];
    sock.on('message', (m) => replies.push(m));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    for (let i = 0; i < 3000; i++) {
      await new Promise<void>((r) => sock.send(randomBytes(1 + (i % 300)), at.port, at.host, () => r()));
    }
    await new Promise((r) => setTimeout(r, 200));
    sock.close();
    // Random bytes rarely form a valid query; whatever came back must itself be a well-formed response.
    for (const m of replies) expect(decode(m).type).toBe('response');
    expect((await queryA(at, 'web.vm')).addresses).toEqual(['172.30.0.7']);
  });
});
