/**
 * The page's side of the UI protocol (api/ui.ts): API calls as NDJSON answers through the daemon's
 * dispatch, with the CSRF token the page was served with. Types come from src/api only.
 */
import type { MethodName, ParamsOf, ResultOf } from '../../api/methods.js';
import type { ProgressEvent } from '../../api/progress.js';
import type { UiCallLine } from '../../api/ui.js';

const CSRF_HEADER = 'x-banger-csrf';
export const csrf = (): string => document.querySelector<HTMLMetaElement>('meta[name="banger-csrf"]')?.content ?? '';

export class CallError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface CallHooks {
  onProgress?(p: ProgressEvent): void;
  onOutput?(stream: 'stdout' | 'stderr', bytes: Uint8Array): void;
  signal?: AbortSignal;
}

function fromB64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Runs one API method; progress and output arrive through the hooks as they happen. */
export async function call<M extends MethodName>(method: M, params: ParamsOf<M>, hooks: CallHooks = {}): Promise<ResultOf<M>> {
  const res = await fetch(`/ui/api/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [CSRF_HEADER]: csrf() },
    body: JSON.stringify(params),
    signal: hooks.signal,
  });
  if (!res.ok || !res.body) {
    const body = (await res.json().catch(() => null)) as { code?: string; message?: string } | null;
    throw new CallError(body?.code ?? String(res.status), body?.message ?? `HTTP ${res.status}`);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buf += value;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = JSON.parse(buf.slice(0, nl)) as UiCallLine;
      buf = buf.slice(nl + 1);
      if ('progress' in line) hooks.onProgress?.(line.progress);
      else if ('stream' in line) hooks.onOutput?.(line.stream, fromB64(line.data));
      else if ('error' in line) throw new CallError(line.error.code, line.error.message);
      else if ('result' in line) return line.result as ResultOf<M>;
    }
    if (done) throw new CallError('unavailable', 'the daemon closed the answer early');
  }
}

export const fmtBytes = (n: number | null | undefined): string => {
  if (n === null || n === undefined) return '–';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) (v /= 1024), i++;
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${u[i]}`;
};

export const fmtAge = (iso: string, now = Date.now()): string => {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
};
