/** Version, commit and build time, written into dist/build-info.json by scripts/build.mjs. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  version: string;
  commit: string;
  builtAt: string;
}

export function buildInfo(): BuildInfo {
  const here = dirname(fileURLToPath(import.meta.url));
  try {
    return JSON.parse(readFileSync(join(here, '..', 'build-info.json'), 'utf8')) as BuildInfo;
  } catch {
    const pkg = JSON.parse(readFileSync(join(here, '..', '..', 'package.json'), 'utf8')) as { version: string };
    return { version: pkg.version, commit: 'unknown', builtAt: 'unknown' };
  }
}
