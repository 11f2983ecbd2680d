/**
 * The wire protocol on the daemon's unix socket: one request per connection, newline-delimited
 * JSON frames. The client sends a request (and, for exec, stdin frames); the daemon answers with
 * any number of progress/stream frames, then exactly one result or error frame.
 */
import { z } from 'zod';
import { ErrorBody } from './errors.js';
import { ProgressEvent } from './progress.js';

export const API_VERSION = 1;

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

/** Splits a byte stream into JSON lines. */
export class LineDecoder {
  private buf = '';
  push(chunk: Buffer | string): string[] {
    this.buf += chunk.toString();
    const lines = this.buf.split('\n');
    this.buf = lines.pop() ?? '';
    return lines.filter((l) => l.length > 0);
  }
}

export const encodeFrame = (frame: unknown): string => `${JSON.stringify(frame)}\n`;
