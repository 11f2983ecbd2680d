import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BangerError } from '../../api/errors.js';
import { Catalog } from '../../api/image.js';
import { loadCatalog, parseCatalog, resolvePull, SHIPPED_CATALOG_PATH, type LoadedCatalog } from './catalog.js';

const sha = 'cd'.repeat(32);
const entry = (name: string, url: string) => ({ name, url, sha256: sha, sizeBytes: 1000, kernel: { name: 'debian-cloud' }, description: '' });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'banger-catalog-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the shipped catalog', () => {
  it('is valid JSON that passes the schema', async () => {
    const json: unknown = JSON.parse(await readFile(SHIPPED_CATALOG_PATH, 'utf8'));
    expect(Catalog.safeParse(json).success).toBe(true);
    const loaded = await loadCatalog();
    expect(loaded.base).toMatch(/^file:\/\/.*\/catalog\/catalog\.json$/);
  });
});

describe('parseCatalog', () => {
  it('names the source and every problem', () => {
    expect(() => parseCatalog({ version: 1, images: [{ name: 'x' }] }, '/etc/banger/catalog.json')).toThrow(
      /image catalog \/etc\/banger\/catalog\.json is invalid: images\.0\.url: .*images\.0\.sha256/,
    );
  });
});

describe('loadCatalog', () => {
  it('reads an override path, and says what is wrong with a broken one', async () => {
    const good = join(dir, 'good.json');
    await writeFile(good, JSON.stringify({ version: 1, images: [entry('a', 'a.tar.zst')] }));
    expect((await loadCatalog(good)).catalog.images[0].name).toBe('a');

    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{ not json');
    await expect(loadCatalog(bad)).rejects.toThrow(/is not valid JSON/);
    const err = await loadCatalog(join(dir, 'missing.json')).catch((e: unknown) => e);
    expect((err as BangerError).code).toBe('unavailable');
  });
});

describe('resolvePull', () => {
  const loaded: LoadedCatalog = {
    base: 'https://images.example.org/banger/catalog.json',
    catalog: { version: 1, images: [entry('rel', 'bundles/rel.tar.zst'), entry('abs', 'https://cdn.example.org/abs.tar.zst')] },
  };

  it.each([
    ['rel', 'https://images.example.org/banger/bundles/rel.tar.zst', 'rel'],
    ['abs', 'https://cdn.example.org/abs.tar.zst', 'abs'],
    ['https://cdn.example.org/abs.tar.zst', 'https://cdn.example.org/abs.tar.zst', 'abs'],
    ['https://images.example.org/banger/bundles/rel.tar.zst', 'https://images.example.org/banger/bundles/rel.tar.zst', 'rel'],
    ['http://127.0.0.1:8080/other.tar.zst', 'http://127.0.0.1:8080/other.tar.zst', null],
  ])('%s -> %s', (input, url, name) => {
    const r = resolvePull(loaded, input);
    expect(r.url).toBe(url);
    expect(r.entry?.name ?? null).toBe(name);
  });

  it('a name not in the catalog is not_found, listing what is', () => {
    const err = (() => {
      try {
        resolvePull(loaded, 'nope');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(BangerError);
    expect((err as BangerError).code).toBe('not_found');
    expect((err as BangerError).message).toBe('image "nope" not found; the catalog lists rel, abs');
  });

  it('an empty catalog points at a URL or a local build', () => {
    expect(() => resolvePull({ base: loaded.base, catalog: { version: 1, images: [] } }, 'x')).toThrow(/pass a bundle URL or run `banger image build`/);
  });
});
