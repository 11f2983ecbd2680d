/**
 * The UI's files, all served by banger (no request leaves the machine): the page itself (with the
 * session's CSRF token in a meta tag) and the bundle scripts/build.mjs wrote to dist/ui/assets/.
 * Read once and kept gzipped in memory.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const ASSETS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'assets');
const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
/** The content type of an asset name the build can write (app.js, app.css, terminal-HASH.js), else null. */
export const assetType = (name: string): string | null => {
  const m = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.(js|css)$/.exec(name);
  return m ? TYPES[m[1]!]! : null;
};

/** No inline script, nothing from elsewhere: the page may talk only to this listener. */
export const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export function pageHtml(csrf: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="banger-csrf" content="${csrf}">
<title>banger</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/assets/app.css">
<script type="module" src="/ui/assets/app.js"></script>
</head><body><div id="app"><p class="boot">Loading banger…</p></div></body></html>
`;
}

const cache = new Map<string, { raw: Buffer; gz: Buffer }>();

function load(name: string, dir: string): { raw: Buffer; gz: Buffer } | null {
  const key = `${dir}/${name}`;
  let hit = cache.get(key);
  if (!hit) {
    let raw: Buffer;
    try {
      raw = readFileSync(join(dir, name));
    } catch {
      return null;
    }
    hit = { raw, gz: gzipSync(raw, { level: 9 }) };
    cache.set(key, hit);
  }
  return hit;
}

export function sendBody(req: IncomingMessage, res: ServerResponse, type: string, body: { raw: Buffer; gz: Buffer }, extra: Record<string, string> = {}): void {
  const gz = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  res.writeHead(200, {
    'content-type': type,
    'x-content-type-options': 'nosniff',
    'content-security-policy': CSP,
    'referrer-policy': 'no-referrer',
    vary: 'accept-encoding',
    ...(gz ? { 'content-encoding': 'gzip' } : {}),
    'content-length': String((gz ? body.gz : body.raw).length),
    ...extra,
  });
  res.end(gz ? body.gz : body.raw);
}

/** True when the asset was sent; false when there is no such file. */
export function serveAsset(name: string, req: IncomingMessage, res: ServerResponse, dir = ASSETS_DIR): boolean {
  const type = assetType(name);
  const body = type ? load(name, dir) : null;
  if (!type || !body) return false;
  sendBody(req, res, type, body, { 'cache-control': 'no-cache' });
  return true;
}

export function servePage(csrf: string, req: IncomingMessage, res: ServerResponse): void {
  const raw = Buffer.from(pageHtml(csrf));
  sendBody(req, res, 'text/html; charset=utf-8', { raw, gz: gzipSync(raw) }, { 'cache-control': 'no-store' });
}
