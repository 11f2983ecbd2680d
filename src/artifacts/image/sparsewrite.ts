/**
 * Writes a stream to a file leaving holes where the data is zero, hashing every byte on the way.
 * A 4 GiB image that holds 700 MiB of data stays a 700 MiB file after a round trip through a
 * bundle, and the sha256 is known without reading the file back.
 */
import { open } from 'node:fs/promises';
import { newSha256 } from '../digest.js';

const BLOCK = 4096;
const ZERO = Buffer.alloc(BLOCK);

export interface SparseWriteResult {
  sha256: string;
  bytes: number;
}

function isZero(buf: Buffer, start: number, end: number): boolean {
  return buf.compare(ZERO, 0, end - start, start, end) === 0;
}

/** Copies `source` into a new file at `path` (mode 0644), skipping zero blocks. */
export async function writeSparse(source: AsyncIterable<Buffer>, path: string): Promise<SparseWriteResult> {
  const hash = newSha256();
  const fh = await open(path, 'wx', 0o644);
  let pos = 0;
  try {
    for await (const chunk of source) {
      hash.update(chunk);
      // Write each run of non-zero blocks with one call; zero blocks become holes.
      let runStart = -1;
      for (let off = 0; off < chunk.length; off += BLOCK) {
        const end = Math.min(off + BLOCK, chunk.length);
        if (isZero(chunk, off, end)) {
          if (runStart >= 0) {
            await fh.write(chunk, runStart, off - runStart, pos + runStart);
            runStart = -1;
          }
        } else if (runStart < 0) runStart = off;
      }
      if (runStart >= 0) await fh.write(chunk, runStart, chunk.length - runStart, pos + runStart);
      pos += chunk.length;
    }
    // Trailing zeros were never written: the size comes from truncate.
    await fh.truncate(pos);
  } finally {
    await fh.close();
  }
  return { sha256: hash.digest('hex'), bytes: pos };
}
