/**
 * Errors in the shapes the E2B SDK turns into its own error types: the control plane's JSON
 * `{code, message}` with the HTTP status (401 → AuthenticationError, 404 → NotFoundError...),
 * envd's HTTP errors, and Connect codes for the RPC services (NotFound → FileNotFoundError...).
 * A sandbox the endpoint does not know answers envd calls with 502, which the SDK reads as
 * "the sandbox is gone" (its TimeoutError), like E2B's proxy.
 */
import type { ServerResponse } from 'node:http';
import { Code, ConnectError } from '@connectrpc/connect';
import { BangerError, httpStatusFor, toBangerError } from '../api/errors.js';

export function sendJsonError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ code: status, message }));
}

/** A banger error as the control plane's or envd's HTTP answer. */
export function httpStatusOf(err: unknown): { status: number; message: string } {
  const e = toBangerError(err);
  return { status: httpStatusFor(e.code), message: e.message };
}

const CONNECT_CODES: Record<BangerError['code'], Code> = {
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  bad_request: Code.InvalidArgument,
  conflict: Code.AlreadyExists,
  unavailable: Code.Unavailable,
  internal: Code.Internal,
};

/** A banger error as a Connect error (what the RPC handlers throw). */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const e = toBangerError(err);
  return new ConnectError(e.message, CONNECT_CODES[e.code]);
}

/** An RPC handler whose failures reach the client as Connect errors (toConnectError). */
export const withConnectErrors =
  <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
  async (...a: A): Promise<R> => {
    try {
      return await fn(...a);
    } catch (err) {
      throw toConnectError(err);
    }
  };
