/**
 * The daemon's loopback HTTP listener, started on first need (`daemon.http`, or at start when a
 * mount asks for it) and shared by every HTTP surface: mounts are registered here once in main.ts.
 * With `[http] port` unset the first free port is taken and remembered, so the URLs people export
 * (E2B_API_URL) or bookmark (the UI) survive a daemon restart.
 */
import { readFileSync } from 'node:fs';
import { BangerError } from '../api/errors.js';
import type { Logger } from '../host/logger.js';
import { replaceFileSync } from '../host/privatefile.js';
import { startHttpListener, type HttpListener, type HttpMount } from '../http/listener.js';

export interface HttpService {
  /** Starts the listener if it is not up yet; its base URL (http://127.0.0.1:PORT). */
  ensure(): Promise<string>;
  /** The URL if the listener is up, else null (for status). */
  url(): string | null;
  close(): Promise<void>;
}

function rememberedPort(file: string): number {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 && n < 65536 ? n : 0;
  } catch {
    return 0;
  }
}

export function createHttpService(deps: { port: number; portFile: string; mounts: readonly HttpMount[]; log: Logger }): HttpService {
  let listener: HttpListener | null = null;
  let starting: Promise<HttpListener> | null = null;
  const start = async (): Promise<HttpListener> => {
    if (deps.port !== 0) {
      return startHttpListener({ port: deps.port, mounts: deps.mounts, log: deps.log }).catch((err: Error) => {
        throw new BangerError('unavailable', `cannot listen on 127.0.0.1:${deps.port} (${err.message}); free the port or set another [http] port in config.toml (0: any free port)`);
      });
    }
    const last = rememberedPort(deps.portFile);
    // The remembered port may have been taken meanwhile: then any free one, remembered anew.
    const l = last ? await startHttpListener({ port: last, mounts: deps.mounts, log: deps.log }).catch(() => null) : null;
    const got = l ?? (await startHttpListener({ port: 0, mounts: deps.mounts, log: deps.log }));
    if (got.port !== last) replaceFileSync(deps.portFile, `${got.port}\n`);
    return got;
  };
  return {
    async ensure() {
      if (listener) return listener.url;
      starting ??= start().finally(() => (starting = null));
      listener = await starting;
      deps.log.info({ url: listener.url, mounts: deps.mounts.map((m) => m.name) }, 'http listening');
      return listener.url;
    },
    url: () => listener?.url ?? null,
    async close() {
      await listener?.close();
      listener = null;
    },
  };
}
