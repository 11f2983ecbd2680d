/**
 * A small client for Firecracker's HTTP API on its unix socket. Firecracker answers 204 on success and
 * `{"fault_message": "..."}` on failure; failures become BangerErrors carrying that message.
 */
import { request as httpRequest } from 'node:http';
import { BangerError } from '../../api/errors.js';
import type { ApiRequest } from './requests.js';

export interface ApiResponse {
  status: number;
  /** Parsed JSON body, or undefined for an empty body (204). */
  body: unknown;
}

export interface ApiClient {
  readonly socketPath: string;
  send(req: ApiRequest): Promise<ApiResponse>;
  /** Sends requests one after another; stops at the first failure. */
  sendAll(reqs: readonly ApiRequest[]): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** Turns a failed response into a BangerError: 4xx means Firecracker refused our input, 5xx its own failure. */
export function faultToError(req: ApiRequest, status: number, rawBody: string): BangerError {
  let fault = rawBody.trim();
  try {
    const parsed = JSON.parse(rawBody) as { fault_message?: unknown };
    if (typeof parsed.fault_message === 'string') fault = parsed.fault_message;
  } catch {
    // Not JSON: keep the raw text.
  }
  const code = status >= 400 && status < 500 ? 'bad_request' : 'internal';
  return new BangerError(code, `Firecracker refused ${req.method} ${req.path} (HTTP ${status}): ${fault || 'no fault message'}; see the VM's hypervisor log`, {
    details: { method: req.method, path: req.path, status, fault },
  });
}

export function createApiClient(socketPath: string, opts: { timeoutMs?: number } = {}): ApiClient {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  function send(req: ApiRequest): Promise<ApiResponse> {
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    return new Promise((resolve, reject) => {
      const r = httpRequest(
        {
          socketPath,
          method: req.method,
          path: req.path,
          // One connection per request: Firecracker's server is single-threaded and we send few requests.
          agent: false,
          headers: {
            Host: 'localhost',
            Accept: 'application/json',
            ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status < 200 || status >= 300) {
              reject(faultToError(req, status, text));
              return;
            }
            let body: unknown;
            if (text.trim() !== '') {
              try {
                body = JSON.parse(text);
              } catch {
                body = text;
              }
            }
            resolve({ status, body });
          });
        },
      );
      r.setTimeout(timeoutMs, () => r.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      r.on('error', (err: NodeJS.ErrnoException) => {
        const gone = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
        reject(
          new BangerError(
            'unavailable',
            `cannot reach the Firecracker API at ${socketPath} for ${req.method} ${req.path}: ${err.message}${gone ? '; is the VM running?' : ''}`,
            { cause: err, details: { socketPath } },
          ),
        );
      });
      r.end(payload);
    });
  }

  return {
    socketPath,
    send,
    async sendAll(reqs) {
      for (const req of reqs) await send(req);
    },
  };
}
