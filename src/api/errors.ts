import { z } from 'zod';

/** The closed set of error codes every layer speaks. Clients branch on these, never on text. */
export const ErrorCode = z.enum(['not_found', 'already_exists', 'bad_request', 'conflict', 'unavailable', 'internal']);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** The wire shape of an error. */
export const ErrorBody = z
  .object({
    code: ErrorCode,
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type ErrorBody = z.infer<typeof ErrorBody>;

/** The one error type of banger: a stable code, a message a person can act on, the original cause kept. */
export class BangerError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'BangerError';
    this.code = code;
    this.details = opts.details;
  }

  toBody(): ErrorBody {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }

  static fromBody(body: ErrorBody): BangerError {
    return new BangerError(body.code, body.message, { details: body.details });
  }
}

export const notFound = (what: string, name: string, hint?: string) =>
  new BangerError('not_found', `${what} "${name}" not found${hint ? `; ${hint}` : ''}`);
export const badRequest = (message: string, details?: Record<string, unknown>) => new BangerError('bad_request', message, { details });
export const conflict = (message: string, details?: Record<string, unknown>) => new BangerError('conflict', message, { details });

/** Wraps anything thrown into a BangerError, keeping the cause. */
export function toBangerError(err: unknown): BangerError {
  if (err instanceof BangerError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new BangerError('internal', message, { cause: err });
}

/** CLI exit codes per error code: the one mapping. 125 and up are left to the guest command's own codes. */
const EXIT_CODES: Record<ErrorCode, number> = {
  bad_request: 2,
  not_found: 3,
  already_exists: 4,
  conflict: 5,
  unavailable: 6,
  internal: 1,
};
export const exitCodeFor = (code: ErrorCode): number => EXIT_CODES[code];

/** HTTP status per error code, for the web API. */
const HTTP_STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  not_found: 404,
  already_exists: 409,
  conflict: 409,
  unavailable: 503,
  internal: 500,
};
export const httpStatusFor = (code: ErrorCode): number => HTTP_STATUS[code];
