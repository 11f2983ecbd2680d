/**
 * The guest's bulk reader (perl, bulkscript.ts) against the same framing table as the TypeScript
 * decoder: real perl on the host, reading each case's stream from a file standing in for the port.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../host/exec.js';
import { BULK_CASES, TOKEN } from '../../test/bulkframe.fixture.js';
import { encodeBulk } from './bulkframe.js';
import { BULK_EXIT, BULK_READ_PERL } from './bulkscript.js';

const dir = mkdtempSync(join(tmpdir(), 'banger-bulkscript-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function read(stream: Buffer, token = TOKEN) {
  const port = join(dir, `port-${Math.random().toString(36).slice(2)}`);
  writeFileSync(port, stream);
  // Third argument: wait 1 s (not 20) for a header that never comes.
  const r = await run(['perl', '-e', BULK_READ_PERL, token, port, '1'], { check: false, binary: true });
  return { code: r.code, stdout: r.stdoutBytes, stderr: r.stderr };
}

describe('the guest bulk reader', () => {
  it.each(BULK_CASES)('$name', async (c) => {
    const r = await read(c.stream());
    const want = { ok: 0, broken: BULK_EXIT.broken, unavailable: BULK_EXIT.unavailable }[c.guest];
    expect(r.code, String(r.stderr)).toBe(want);
    if (c.guest === 'ok') expect(Buffer.from(r.stdout).equals(c.payload!)).toBe(true);
    if (c.guest === 'unavailable') expect(Buffer.from(r.stdout).length).toBe(0);
  });

  it('passes 8 MB of random bytes through intact', async () => {
    const data = Buffer.alloc(8 << 20);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);
    const pieces = Array.from({ length: 8 }, (_, i) => data.subarray(i << 20, (i + 1) << 20));
    const r = await read(encodeBulk(TOKEN, pieces));
    expect(r.code).toBe(0);
    const h = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(h(Buffer.from(r.stdout))).toBe(h(data));
  });

  it('a port that cannot be opened is "unavailable": the host may use SSH instead', async () => {
    const r = await run(['perl', '-e', BULK_READ_PERL, TOKEN, join(dir, 'missing'), '1'], { check: false });
    expect(r.code).toBe(BULK_EXIT.unavailable);
    expect(r.stderr).toMatch(/cannot open/);
  });
});
