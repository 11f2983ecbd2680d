import { describe, expect, it } from 'vitest';
import { BULK_MAX_CHUNK, BulkDecoder, BulkFrameError, bulkChunks, bulkEnd, bulkHeader, encodeBulk, newBulkToken } from './bulkframe.js';
import { BULK_CASES, TOKEN } from '../../test/bulkframe.fixture.js';

function decode(token: string, pieces: Buffer[]): { data: Buffer; skipped: number; error: string | null; done: boolean } {
  const out: Buffer[] = [];
  const d = new BulkDecoder(token, (c) => out.push(Buffer.from(c)));
  let error: string | null = null;
  try {
    for (const p of pieces) d.push(p);
    d.finish();
  } catch (err) {
    if (!(err instanceof BulkFrameError)) throw err;
    error = err.message;
  }
  return { data: Buffer.concat(out), skipped: d.skipped, error, done: d.state === 'done' };
}

/** Every way of cutting `buf` into pieces at one or two places. */
function splits(buf: Buffer): Buffer[][] {
  const out: Buffer[][] = [[buf]];
  for (let i = 1; i < buf.length; i += Math.max(1, Math.floor(buf.length / 40))) {
    out.push([buf.subarray(0, i), buf.subarray(i)]);
    out.push([buf.subarray(0, i), buf.subarray(i, i + 1), buf.subarray(i + 1)]);
  }
  return out;
}

describe('bulk framing', () => {
  it.each(BULK_CASES)('$name', (c) => {
    const stream = c.stream();
    for (const pieces of splits(stream)) {
      const r = decode(TOKEN, pieces);
      if (c.error) {
        expect(r.error).toMatch(c.error);
      } else {
        expect(r.error).toBeNull();
        expect(r.data.equals(c.payload!)).toBe(true);
        expect(r.skipped).toBe(c.skipped ?? 0);
      }
    }
  });

  it('splits a piece larger than the chunk limit', () => {
    const big = Buffer.alloc(BULK_MAX_CHUNK * 2 + 5, 7);
    const frames = bulkChunks(big);
    expect(frames.filter((_, i) => i % 2 === 0).map((b) => b.readUInt32BE(0))).toEqual([BULK_MAX_CHUNK, BULK_MAX_CHUNK, 5]);
    expect(bulkChunks(Buffer.alloc(0))).toEqual([]);
  });

  it('refuses a token that is not 32 hex digits, and makes new ones each time', () => {
    expect(() => bulkHeader('x')).toThrow(/32 hex/);
    expect(() => bulkHeader(`${TOKEN}\n`)).toThrow(/32 hex/);
    const a = newBulkToken();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(newBulkToken()).not.toBe(a);
  });

  it('ignores a previous transfer with another token, even a complete one', () => {
    const old = encodeBulk('0'.repeat(32), [Buffer.from('old data')]);
    const r = decode(TOKEN, [old, encodeBulk(TOKEN, [Buffer.from('new')])]);
    expect(r.data.toString()).toBe('new');
    expect(r.skipped).toBe(old.length);
  });

  it('the end frame carries the count', () => {
    expect(bulkEnd(5).toString('hex')).toBe('000000000000000000000005');
  });
});
