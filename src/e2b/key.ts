/**
 * The E2B endpoint's secrets: the per-install API key (X-API-Key, a 0600 file in the state dir,
 * made on first use and read by `banger serve --print-env`), per-sandbox envd access tokens and
 * sandbox ids, and the constant-time comparison every check uses.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeNewFileSync } from '../host/privatefile.js';

/** E2B keys look like `e2b_` + 40 hex; clients that check the prefix accept ours. */
export const newApiKey = (): string => `e2b_${randomBytes(20).toString('hex')}`;
export const newAccessToken = (): string => randomBytes(24).toString('hex');
/** Sandbox ids double as VM names (banger's name rules: lowercase, digits, dashes). */
export const newSandboxId = (): string => `sbx-${randomBytes(6).toString('hex')}`;

/** The install's API key, created (0600, exclusively) when missing. */
export function ensureApiKey(path: string): string {
  try {
    const k = readFileSync(path, 'utf8').trim();
    if (k) return k;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = newApiKey();
  try {
    writeNewFileSync(path, `${key}\n`, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(path, 'utf8').trim(); // another process won
    throw err;
  }
  return key;
}

/** True when `given` equals `expected`, in time independent of where they differ. */
export function secretMatches(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== 'string' || expected === '') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
