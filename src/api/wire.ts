/**
 * The wire protocol on the daemon's unix socket: one request per connection, newline-delimited
 * JSON frames. The client sends a request (and, for exec, stdin frames); the daemon answers with
 * any number of progress/stream frames, then exactly one result or error frame.
 *
 * WIRE_LIMITS is the one place the protocol's bounds live (frame size, stdin chunking, the
 * daemon's connection cap, idle timeout and per-connection buffers): a client that breaks them gets
 * a clear error frame, and no client can make the daemon buffer without bound.
 */
import { z } from 'zod';
import { ErrorBody } from './errors.js';
import { ProgressEvent } from './progress.js';

export const API_VERSION = 1;

const KiB = 1024;
const MiB = 1024 * KiB;

export const WIRE_LIMITS = {
  /** Longest frame the daemon reads from a client (request or stdin frame, newline excluded); longer is `bad_request` and the connection is closed. */
  maxRequestFrameBytes: 1 * MiB,
  /** Longest frame a client reads from the daemon (a result such as a long `vm list`). */
  maxReplyFrameBytes: 64 * MiB,
  /** Raw stdin bytes per stdin frame the client sends (base64 makes a frame ~4/3 of it, well under maxRequestFrameBytes). */
  stdinChunkBytes: 256 * KiB,
  /** Stdin bytes the daemon queues for a call before it stops reading the client's socket (resumed as the call reads). */
  stdinQueueBytes: 1 * MiB,
  /** Output bytes the daemon queues on a client's socket before the producer (a guest command's channel) is paused. */
  outputQueueBytes: 1 * MiB,
  /** A connection that has not sent a complete request frame within this long is answered `bad_request` and closed. */
  requestTimeoutMs: 10_000,
  /** Connections the daemon serves at once; one more is answered `unavailable` and closed. */
  maxConnections: 512,
  /** How long a refused connection (over the cap, or a peer not admitted) is read and ignored after its answer, so the client's own request write does not fail before it reads why. */
  refusedLingerMs: 1_000,
} as const;

export const RequestFrame = z
  .object({ v: z.literal(API_VERSION), method: z.string(), params: z.unknown() })
  .strict();
export type RequestFrame = z.infer<typeof RequestFrame>;

/** Client → daemon after the request: stdin bytes (base64), end of stdin, or a signal to forward. */
export const ClientFrame = z.union([
  z.object({ stdin: z.string() }).strict(),
  z.object({ stdinEnd: z.literal(true) }).strict(),
]);
export type ClientFrame = z.infer<typeof ClientFrame>;

export const ServerFrame = z.union([
  z.object({ progress: ProgressEvent }).strict(),
  z.object({ stream: z.enum(['stdout', 'stderr']), data: z.string() }).strict(),
  z.object({ result: z.unknown() }).strict(),
  z.object({ error: ErrorBody }).strict(),
]);
export type ServerFrame = z.infer<typeof ServerFrame>;

/**
 * Splits a byte stream into lines (UTF-8, empty lines skipped), holding at most `maxLineBytes` of
 * an unfinished line. Each byte is scanned for the newline once. A line over the cap sets
 * `overflowed`; from then on nothing more is decoded (the caller answers and closes). Never throws.
 */
export class LineDecoder {
  private parts: Buffer[] = [];
  private size = 0;
  #overflowed = false;

  constructor(private readonly maxLineBytes: number = WIRE_LIMITS.maxReplyFrameBytes) {}

  /** A line was longer than the cap; the decoder has stopped. */
  get overflowed(): boolean {
    return this.#overflowed;
  }

  /** Bytes of the unfinished line held now (never more than the cap). */
  get bufferedBytes(): number {
    return this.size;
  }

  push(chunk: Buffer | string): string[] {
    const lines: string[] = [];
    if (this.#overflowed) return lines;
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (;;) {
      const nl = bytes.indexOf(0x0a, start);
      const end = nl < 0 ? bytes.length : nl;
      if (this.size + (end - start) > this.maxLineBytes) {
        this.#overflowed = true;
        this.parts = [];
        this.size = 0;
        return lines;
      }
      if (nl < 0) break;
      const piece = bytes.subarray(start, nl);
      const line = this.size === 0 ? piece.toString('utf8') : Buffer.concat([...this.parts, piece]).toString('utf8');
      this.parts = [];
      this.size = 0;
      if (line.length > 0) lines.push(line);
      start = nl + 1;
    }
    if (start < bytes.length) {
      // A copy: a slice would keep the whole chunk alive for its tail.
      this.parts.push(Buffer.from(bytes.subarray(start)));
      this.size += bytes.length - start;
    }
    return lines;
  }
}

export const encodeFrame = (frame: unknown): string => `${JSON.stringify(frame)}\n`;
