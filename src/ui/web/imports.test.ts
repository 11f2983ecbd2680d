/**
 * The front-end's one rule about imports: from src/ only api/ types (`import type`, so no zod or
 * daemon code reaches the bundle), besides its own files and the browser packages it bundles.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DIR = dirname(fileURLToPath(import.meta.url));
const PACKAGES = /^(preact(\/hooks)?|@xterm\/xterm(\/css\/xterm\.css)?|@xterm\/addon-fit|zod)$/;

const files = readdirSync(DIR).filter((f) => /\.tsx?$/.test(f) && !f.endsWith('.test.ts'));

describe('ui/web imports', () => {
  it('has sources', () => expect(files.length).toBeGreaterThan(5));
  it.each(files)('%s imports only api types, its siblings and bundled browser packages', (f) => {
    const text = readFileSync(`${DIR}/${f}`, 'utf8');
    const bad: string[] = [];
    for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^'"]*?from\s+'([^']+)'|^import\s+'([^']+)'|import\('([^']+)'\)/gm)) {
      const target = m[3] ?? m[4] ?? m[5]!;
      const typeOnly = Boolean(m[2]);
      if (target.startsWith('./')) continue;
      if (target.startsWith('../../api/') && typeOnly) continue;
      if (PACKAGES.test(target) && (target !== 'zod' || typeOnly)) continue;
      bad.push(`${m[0]}`);
    }
    expect(bad).toEqual([]);
  });
});
