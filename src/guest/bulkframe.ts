/**
 * The bulk channel's framing (pure). The channel is a raw byte pipe (a virtio-serial port) that can
 * hold leftovers of an aborted transfer, and whose far end cannot tell a finished stream from a
 * dropped one. So every transfer is framed:
 *
 *   header   `BANGER-BULK1 <token>\n`   token: 32 hex digits, new for each transfer, also given to
 *                                        the reader out of band (the SSH command line); the reader
 *                                        skips everything before it (an aborted transfer's bytes)
 *   chunk    u32 BE length (1..BULK_MAX_CHUNK), then that many bytes     (any number)
 *   end      u32 0, then u64 BE total of the chunk bytes                  (exactly one)
 *
 * The guest side of the same format is the perl in guest/bulkscript.ts; both are tested from one
 * table (bulkframe.test.ts, bulkscript.host.test.ts).
 */
import { randomBytes } from 'node:crypto';

export const BULK_MAX_CHUNK = 1 << 20;
const TOKEN = /^[0-9a-f]{32}$/;

/** A fresh per-transfer token. */
export function newBulkToken(): string {
  return randomBytes(16).toString('hex');
}

export function bulkHeader(token: string): Buffer {
  if (!TOKEN.test(token)) throw new Error(`bulk token must be 32 hex digits, got ${JSON.stringify(token)}`);
  return Buffer.from(`BANGER-BULK1 ${token}\n`, 'ascii');
}

/** Frames one piece of payload (split into chunks of at most BULK_MAX_CHUNK; nothing for an empty piece). */
export function bulkChunks(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < data.length; off += BULK_MAX_CHUNK) {
    const part = data.subarray(off, Math.min(data.length, off + BULK_MAX_CHUNK));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(part.length);
    out.push(len, part);
  }
  return out;
}

export function bulkEnd(total: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32BE(0, 0);
  b.writeBigUInt64BE(BigInt(total), 4);
  return b;
}

/** A whole framed transfer of `pieces` (tests, and small transfers). */
export function encodeBulk(token: string, pieces: readonly Buffer[]): Buffer {
  const total = pieces.reduce((n, p) => n + p.length, 0);
  return Buffer.concat([bulkHeader(token), ...pieces.flatMap(bulkChunks), bulkEnd(total)]);
}

export type BulkDecodeState = 'header' | 'length' | 'data' | 'end' | 'done';

/** Why a framed stream is not a transfer: the reader stops at the first problem. */
export class BulkFrameError extends Error {}

/**
 * Reads a framed stream pushed in arbitrary pieces: skips bytes before its header, hands the payload
 * to `onData` in order, and is `done` after a matching end. Each byte is looked at once (the header
 * search keeps only a header's length of tail).
 */
export class BulkDecoder {
  state: BulkDecodeState = 'header';
  /** Payload bytes handed out so far. */
  total = 0;
  /** Bytes dropped before the header (leftovers of an earlier transfer). */
  skipped = 0;
  private readonly header: Buffer;
  private pending = Buffer.alloc(0);
  private left = 0;

  constructor(token: string, private readonly onData: (chunk: Buffer) => void) {
    this.header = bulkHeader(token);
  }

  push(piece: Buffer): void {
    if (this.state === 'done') {
      if (piece.length) throw new BulkFrameError(`${piece.length} bytes after the end of the transfer`);
      return;
    }
    let buf = this.pending.length ? Buffer.concat([this.pending, piece]) : piece;
    this.pending = Buffer.alloc(0);
    while (buf.length) {
      if (this.state === 'header') {
        const i = buf.indexOf(this.header);
        if (i < 0) {
          const keep = Math.min(buf.length, this.header.length - 1);
          this.skipped += buf.length - keep;
          this.pending = Buffer.from(buf.subarray(buf.length - keep));
          return;
        }
        this.skipped += i;
        buf = buf.subarray(i + this.header.length);
        this.state = 'length';
      } else if (this.state === 'length') {
        if (buf.length < 4) break;
        const len = buf.readUInt32BE(0);
        buf = buf.subarray(4);
        if (len === 0) this.state = 'end';
        else if (len > BULK_MAX_CHUNK) throw new BulkFrameError(`chunk length ${len} is over the limit of ${BULK_MAX_CHUNK}`);
        else {
          this.left = len;
          this.state = 'data';
        }
      } else if (this.state === 'data') {
        const take = Math.min(this.left, buf.length);
        this.onData(buf.subarray(0, take));
        this.total += take;
        this.left -= take;
        buf = buf.subarray(take);
        if (this.left === 0) this.state = 'length';
      } else if (this.state === 'end') {
        if (buf.length < 8) break;
        const want = buf.readBigUInt64BE(0);
        if (want !== BigInt(this.total)) throw new BulkFrameError(`the sender counted ${want} bytes, ${this.total} arrived`);
        this.state = 'done';
        buf = buf.subarray(8);
        if (buf.length) throw new BulkFrameError(`${buf.length} bytes after the end of the transfer`);
      }
    }
    if (buf.length) this.pending = Buffer.from(buf);
  }

  /** At the end of input: throws unless a whole transfer arrived. */
  finish(): void {
    if (this.state !== 'done') throw new BulkFrameError(this.state === 'header' ? 'no transfer header arrived' : 'the stream ended before the end of the transfer');
  }
}
