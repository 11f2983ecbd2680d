import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSparse } from './sparsewrite.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'banger-sparse-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function* chunks(buf: Buffer, size: number) {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

describe('writeSparse', () => {
  it('keeps the bytes, hashes them, and leaves zero regions as holes', async () => {
    const data = Buffer.alloc(16 * 1024 * 1024);
    data.write('start', 0);
    data.fill(7, 5 * 1024 * 1024, 5 * 1024 * 1024 + 10_000);
    data.write('odd offset', 9 * 1024 * 1024 + 1234);
    const out = join(dir, 'img');
    // Chunks not aligned to 4 KiB, as a decompressor's output is.
    const r = await writeSparse(chunks(data, 65_537), out);
    expect(r.bytes).toBe(data.length);
    expect(r.sha256).toBe(createHash('sha256').update(data).digest('hex'));
    expect((await readFile(out)).equals(data)).toBe(true);
    const st = await stat(out);
    expect(st.size).toBe(data.length);
    expect(st.blocks * 512).toBeLessThan(1024 * 1024);
  });

  it('writes an all-zero stream as one hole of the right size', async () => {
    const out = join(dir, 'zeros');
    const r = await writeSparse(chunks(Buffer.alloc(1024 * 1024), 4096), out);
    expect(r.bytes).toBe(1024 * 1024);
    expect((await stat(out)).size).toBe(1024 * 1024);
    expect((await stat(out)).blocks).toBe(0);
  });

  it('refuses to overwrite an existing file', async () => {
    const out = join(dir, 'zeros');
    await expect(writeSparse(chunks(Buffer.alloc(10), 10), out)).rejects.toThrow(/EEXIST/);
  });
});
