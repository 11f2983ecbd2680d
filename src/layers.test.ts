/**
 * Import rules the layer picture (ARCHITECTURE.md) states, checked on the source: a violation
 * fails here instead of waiting for a reviewer.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = dirname(fileURLToPath(import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(SRC, dir), { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

/** Top-level folders of src/ a file imports (relative imports only). */
function importedFolders(file: string): string[] {
  const text = readFileSync(join(SRC, file), 'utf8');
  const out = new Set<string>();
  for (const m of text.matchAll(/^(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'/gm)) {
    const target = relative(SRC, resolve(join(SRC, dirname(file)), m[1]));
    out.add(target.split('/')[0]);
  }
  return [...out];
}

describe('layers', () => {
  it.each([
    ['sdk', ['api', 'sdk']],
    ['api', ['api']],
    ['host', ['api', 'host']],
  ])('%s/ imports only from %j', (folder, allowed) => {
    const bad = sources(folder).flatMap((f) => importedFolders(f).filter((t) => !allowed.includes(t)).map((t) => `${f} → ${t}/`));
    expect(bad).toEqual([]);
  });
});
