/**
 * banger's own DNS server: authoritative for the `vm` zone, A records only, UDP on loopback.
 * `answer()` is pure (bytes in, bytes or nothing out) so the protocol is tested without sockets;
 * the server only moves datagrams. Packets that do not decode are dropped silently: a resolver
 * retries, a fuzzer gets nothing back, and nothing a sender writes can crash the daemon.
 */
import { createSocket, type Socket } from 'node:dgram';
import { AUTHORITATIVE_ANSWER, decode, encode, RECURSION_DESIRED, type Answer, type DecodedPacket } from 'dns-packet';
import { VM_DOMAIN } from '../api/names.js';
import type { Logger } from '../host/logger.js';

export const ZONE = VM_DOMAIN;
/** Short: a record changes when its VM starts, stops or is deleted. */
export const RECORD_TTL = 5;

const RCODE = { NOERROR: 0, FORMERR: 1, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
type Rcode = (typeof RCODE)[keyof typeof RCODE];

/** VM name (lowercase, no zone) → IPv4. */
export type Lookup = (name: string) => string | undefined;

const SOA: Answer = {
  type: 'SOA',
  name: ZONE,
  ttl: RECORD_TTL,
  data: { mname: `ns.${ZONE}`, rname: `hostmaster.${ZONE}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: RECORD_TTL },
};

/** The reply to one query datagram, or null when it must be ignored (undecodable, or not a query). */
export function answer(query: Buffer, lookup: Lookup): Buffer | null {
  // Header screen before decoding: random bytes cost dns-packet ~1 ms each (it allocates arrays
  // sized by the claimed counts), and no real query carries answers, authorities or >1 additional.
  if (query.length < 12 || query.length > 4096) return null;
  const flags = query.readUInt16BE(2);
  if (flags & 0x8000) return null; // a response, not a query
  if (query.readUInt16BE(6) !== 0 || query.readUInt16BE(8) !== 0 || query.readUInt16BE(10) > 1) return null;
  if (query.readUInt16BE(4) !== 1) {
    return encode({ type: 'response', id: query.readUInt16BE(0), flags: AUTHORITATIVE_ANSWER | (flags & RECURSION_DESIRED) | RCODE.FORMERR, questions: [] });
  }
  let q: DecodedPacket;
  try {
    q = decode(query);
  } catch {
    return null;
  }
  if (q.type !== 'query') return null;
  const rd = (q.flags ?? 0) & RECURSION_DESIRED;
  const questions = q.questions ?? [];
  const reply = (rcode: Rcode, answers: Answer[] = [], authorities: Answer[] = []): Buffer | null => {
    try {
      return encode({ type: 'response', id: q.id, flags: AUTHORITATIVE_ANSWER | rd | rcode, questions, answers, authorities });
    } catch {
      return null; // a question dns-packet decoded but cannot re-encode: treat as malformed
    }
  };
  const opcode = ((q.flags ?? 0) >> 11) & 0xf;
  if (opcode !== 0) return reply(RCODE.NOTIMP);
  const { name: rawName, class: klass } = questions[0];
  const type = String(questions[0].type); // dns-packet's type list lacks ANY
  const name = String(rawName).toLowerCase().replace(/\.$/, '');
  if (klass !== undefined && klass !== 'IN' && klass !== 'ANY') return reply(RCODE.REFUSED);
  if (name === ZONE) return reply(RCODE.NOERROR, type === 'SOA' ? [SOA] : [], type === 'SOA' ? [] : [SOA]);
  if (!name.endsWith(`.${ZONE}`)) return reply(RCODE.REFUSED); // not our zone; banger is no recursor
  const label = name.slice(0, -(ZONE.length + 1));
  const ip = label.includes('.') ? undefined : lookup(label);
  if (!ip) return reply(RCODE.NXDOMAIN, [], [SOA]);
  if (type !== 'A' && type !== 'ANY') return reply(RCODE.NOERROR, [], [SOA]); // the name exists, without this type
  return reply(RCODE.NOERROR, [{ type: 'A', name: rawName, ttl: RECORD_TTL, data: ip }]);
}

export interface DnsServer {
  /** Replaces every record at once (VM name → IPv4). */
  setRecords(records: ReadonlyMap<string, string>): void;
  records(): Map<string, string>;
  address(): { host: string; port: number };
  close(): Promise<void>;
}

/** Binds a UDP socket on host:port and serves the `vm` zone from the current records. */
export function startDnsServer(opts: { host: string; port: number; log: Logger }): Promise<DnsServer> {
  let table = new Map<string, string>();
  const lookup: Lookup = (n) => table.get(n);
  const sock: Socket = createSocket({ type: opts.host.includes(':') ? 'udp6' : 'udp4' });
  let served = 0;
  let dropped = 0;
  sock.on('message', (msg, rinfo) => {
    const out = answer(msg, lookup);
    if (!out) {
      if (++dropped % 1000 === 1) opts.log.debug({ from: rinfo.address, dropped }, 'dns: dropped a malformed packet');
      return;
    }
    served++;
    sock.send(out, rinfo.port, rinfo.address, (err) => {
      if (err) opts.log.debug({ err: err.message }, 'dns: send failed');
    });
  });
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(opts.port, opts.host, () => {
      sock.off('error', reject);
      sock.on('error', (err) => opts.log.warn({ err: err.message }, 'dns socket error'));
      const a = sock.address();
      resolve({
        setRecords(records) {
          table = new Map([...records].map(([k, v]) => [k.toLowerCase(), v]));
        },
        records: () => new Map(table),
        address: () => ({ host: a.address, port: a.port }),
        close: () =>
          new Promise<void>((r) => {
            opts.log.debug({ served, dropped }, 'dns: closing');
            sock.close(() => r());
          }),
      });
    });
  });
}
