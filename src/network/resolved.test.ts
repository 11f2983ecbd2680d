import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dropInText, installResolved, readState, resolvedCheck, uninstallResolved, type ResolvedHost } from './resolved.js';

const at = { host: '127.0.0.1', port: 42069 };
const dir = mkdtempSync(join(tmpdir(), 'bt-resolved-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A resolved host rooted in a temp dir; reloads are counted (the seam: no resolved runs here). */
function fakeHost(active: boolean): ResolvedHost & { reloads: number } {
  const h = {
    dropInPath: join(dir, `${active}`, 'etc/systemd/resolved.conf.d/banger.conf'),
    active: () => active,
    reloads: 0,
    reload: async () => void h.reloads++,
  };
  return h;
}

describe('drop-in content', () => {
  it('routes only the vm domain to the configured address', () => {
    expect(dropInText(at)).toMatch(/\[Resolve\]\nDNS=127\.0\.0\.1:42069\nDomains=~vm\n$/);
    expect(dropInText({ host: '::1', port: 5353 })).toContain('DNS=[::1]:5353');
  });
});

describe('install / uninstall', () => {
  it('writes the drop-in once, reloads only on change, and removes it', async () => {
    const h = fakeHost(true);
    expect(resolvedCheck(await readState(h, at), at)).toMatchObject({ verdict: 'warn', fix: expect.stringContaining('banger dns install') });
    expect(await installResolved(h, at)).toEqual({ path: h.dropInPath, changed: true });
    expect(await installResolved(h, at)).toEqual({ path: h.dropInPath, changed: false });
    expect(h.reloads).toBe(1);
    expect(readFileSync(h.dropInPath, 'utf8')).toBe(dropInText(at));
    expect(resolvedCheck(await readState(h, at), at)).toMatchObject({ verdict: 'pass' });
    // Another port in the config: the drop-in is stale and doctor says so; install rewrites it.
    const moved = { ...at, port: 5300 };
    expect(resolvedCheck(await readState(h, moved), moved)).toMatchObject({ verdict: 'warn', detail: expect.stringContaining('another address') });
    expect((await installResolved(h, moved)).changed).toBe(true);
    expect(await uninstallResolved(h)).toEqual({ path: h.dropInPath, changed: true });
    expect(await uninstallResolved(h)).toEqual({ path: h.dropInPath, changed: false });
    expect(existsSync(h.dropInPath)).toBe(false);
    expect(h.reloads).toBe(3);
  });

  it('refuses on a host without systemd-resolved and tells what to do instead', async () => {
    const h = fakeHost(false);
    await expect(installResolved(h, at)).rejects.toThrow(/does not use systemd-resolved.*server=\/vm\/127\.0\.0\.1#42069/);
    expect(resolvedCheck(await readState(h, at), at)).toMatchObject({ verdict: 'pass', detail: expect.stringContaining('not in use') });
  });
});
