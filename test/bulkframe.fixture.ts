/**
 * Framing cases shared by the TypeScript decoder's table test and the guest reader's host test
 * (the perl in bulkscript.ts must agree with bulkframe.ts byte for byte). Test data only.
 */
import { BULK_MAX_CHUNK, bulkChunks, bulkEnd, bulkHeader, encodeBulk } from '../src/guest/bulkframe.js';

export const TOKEN = '0123456789abcdef0123456789abcdef';
const OTHER = 'fedcba9876543210fedcba9876543210';

export interface BulkCase {
  name: string;
  stream: () => Buffer;
  /** Expected payload (null: an error). */
  payload: Buffer | null;
  skipped?: number;
  /** What the TS decoder's error says. */
  error?: RegExp;
  /** The guest reader's verdict: ok, broken (after the header) or unavailable (no header). */
  guest: 'ok' | 'broken' | 'unavailable';
}

const bin = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff));
const hdr = bulkHeader(TOKEN);
const frame = (data: Buffer) => Buffer.concat(bulkChunks(data));

export const BULK_CASES: BulkCase[] = [
  { name: 'one piece', stream: () => encodeBulk(TOKEN, [Buffer.from('hello')]), payload: Buffer.from('hello'), guest: 'ok' },
  { name: 'no payload at all', stream: () => encodeBulk(TOKEN, []), payload: Buffer.alloc(0), guest: 'ok' },
  { name: 'binary, many pieces', stream: () => encodeBulk(TOKEN, [bin, bin.subarray(5), Buffer.from([0, 0, 0, 0])]), payload: Buffer.concat([bin, bin.subarray(5), Buffer.from([0, 0, 0, 0])]), guest: 'ok' },
  {
    name: 'leftovers of an aborted transfer before the header are skipped',
    stream: () => Buffer.concat([Buffer.from('BANGER-BULK1 stale'), frame(bin), encodeBulk(TOKEN, [Buffer.from('x')])]),
    payload: Buffer.from('x'),
    skipped: 18 + frame(bin).length,
    guest: 'ok',
  },
  {
    name: 'a header with another token is not ours',
    stream: () => Buffer.concat([encodeBulk(OTHER, [Buffer.from('theirs')]), encodeBulk(TOKEN, [Buffer.from('ours')])]),
    payload: Buffer.from('ours'),
    skipped: encodeBulk(OTHER, [Buffer.from('theirs')]).length,
    guest: 'ok',
  },
  { name: 'cut inside a chunk', stream: () => encodeBulk(TOKEN, [bin]).subarray(0, hdr.length + 100), payload: null, error: /ended before the end/, guest: 'broken' },
  { name: 'cut before the count', stream: () => Buffer.concat([hdr, frame(bin), Buffer.alloc(4)]), payload: null, error: /ended before the end/, guest: 'broken' },
  { name: 'a wrong count', stream: () => Buffer.concat([hdr, frame(bin), bulkEnd(bin.length + 1)]), payload: null, error: /counted 3001 bytes, 3000 arrived/, guest: 'broken' },
  {
    name: 'a chunk over the limit',
    stream: () => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(BULK_MAX_CHUNK + 1);
      return Buffer.concat([hdr, len, Buffer.alloc(16)]);
    },
    payload: null,
    error: /over the limit/,
    guest: 'broken',
  },
  { name: 'no header', stream: () => frame(bin), payload: null, error: /no transfer header/, guest: 'unavailable' },
];
