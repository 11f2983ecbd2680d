/**
 * banger's private apt against the real Debian archive, with the host's apt configuration out of
 * the picture: the fetch runs inside a private mount namespace (`unshare --mount`) where empty
 * directories are bind-mounted over /etc/apt and /var/lib/apt, so the host's sources, keys and
 * lists do not exist. It must still resolve and download linux-image-cloud-amd64's image package.
 * Needs root (mount namespace) and the Debian mirror.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, which } from '../../host/exec.js';
import { REPO } from '../../../test/install.fixture.js';
import { hashFile } from '../digest.js';
import { listAvailable, resolveKernelPackage } from '../kernel/debian.js';
import { privateApt } from './apt.js';

async function skipReason(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'not root (needs a mount namespace)';
  for (const cmd of ['unshare', 'mount', 'apt-get', 'apt-cache']) if ((await which(cmd)) === null) return `${cmd} is not installed`;
  return null;
}
const reason = await skipReason();
if (reason) console.log(`apt.host.test skipped: ${reason}`);

/** Runs inside the namespace: hides the host's apt, proves it is hidden, then fetches with banger's apt. */
const SCRIPT = `
const { run } = await import(${JSON.stringify(join(REPO, 'dist/host/exec.js'))});
const { privateApt } = await import(${JSON.stringify(join(REPO, 'dist/artifacts/apt/apt.js'))});
const { resolveKernelPackage, fetchDeb } = await import(${JSON.stringify(join(REPO, 'dist/artifacts/kernel/debian.js'))});
const [empty, aptDir, debDir] = process.argv.slice(2);
await run(['mount', '--bind', empty, '/etc/apt']);
await run(['mount', '--bind', empty, '/var/lib/apt']);
const hostApt = await run(['apt-cache', 'show', 'linux-image-cloud-amd64'], { check: false });
const stages = [];
const apt = privateApt({ dir: aptDir });
const pkg = await resolveKernelPackage(apt, 'linux-image-cloud-amd64', (s) => stages.push(s));
const deb = await fetchDeb(apt, pkg, debDir, (s) => stages.push(s));
console.log(JSON.stringify({ hostAptCode: hostApt.code, hostAptOut: hostApt.stdout, etcApt: (await run(['ls', '-A', '/etc/apt'])).stdout, pkg, deb, stages }));
`;

describe.skipIf(reason !== null)('private apt (real Debian archive)', () => {
  let base: string;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'banger-apt-'));
  });
  afterAll(async () => {
    if (base) await rm(base, { recursive: true, force: true });
  });

  it('fetches the cloud kernel package with the host apt sources emptied', async () => {
    const empty = join(base, 'empty');
    await mkdir(empty);
    const script = join(base, 'fetch.mjs');
    await writeFile(script, SCRIPT);
    const t0 = Date.now();
    const r = await run(['unshare', '--mount', '--propagation', 'private', process.execPath, script, empty, join(base, 'apt'), join(base, 'debs')], {
      check: false,
      timeoutMs: 600_000,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      hostAptCode: number;
      hostAptOut: string;
      etcApt: string;
      pkg: { package: string; version: string; sha256: string; size: number };
      deb: { path: string; cached: boolean };
      stages: string[];
    };
    console.log(`private apt: update + resolve + download ${out.pkg.package} ${out.pkg.version} in ${Date.now() - t0} ms`);
    // The host's apt really was empty in there.
    expect(out.etcApt).toBe('');
    expect(out.hostAptOut).not.toMatch(/^Package: linux-image-cloud-amd64/m);
    // And banger's apt still resolved and downloaded the package, hash-checked against the signed index.
    expect(out.pkg.package).toMatch(/^linux-image-\d\S*-cloud-amd64$/);
    expect(out.stages).toEqual(expect.arrayContaining(['apt-update', 'download']));
    expect(out.deb.cached).toBe(false);
    expect(await hashFile(out.deb.path)).toEqual({ sha256: out.pkg.sha256, size: out.pkg.size });
    // The host's /etc/apt outside the namespace is untouched.
    expect((await stat('/etc/apt')).isDirectory()).toBe(true);
  }, 600_000);

  it('reuses fresh lists, lists debian-cloud as available, and names an unknown package', async () => {
    const apt = privateApt({ dir: join(base, 'apt') });
    const stamp = await readFile(apt.layout.updatedStamp, 'utf8');
    const stages: string[] = [];
    const pkg = await resolveKernelPackage(apt, 'linux-image-cloud-amd64', (s) => stages.push(s));
    expect(pkg.package).toMatch(/^linux-image-/);
    expect(stages).not.toContain('apt-update');
    const available = await listAvailable(apt);
    expect(available.map((a) => a.name)).toEqual(['debian-cloud']);
    // Unknown: one refresh, then a clear error.
    await expect(resolveKernelPackage(apt, 'linux-image-banger-does-not-exist', (s) => stages.push(s))).rejects.toMatchObject({
      code: 'unavailable',
      message: expect.stringMatching(/the Debian archive has no package linux-image-banger-does-not-exist/),
    });
    expect(stages).toContain('apt-update');
    expect(await readFile(apt.layout.updatedStamp, 'utf8')).not.toBe(stamp);
  }, 300_000);

  it('refuses an archive whose signatures do not verify with the keyring given', async () => {
    const apt = privateApt({ dir: join(base, 'apt-badkey'), keyring: '/usr/share/keyrings/debian-archive-removed-keys.gpg' });
    await expect(apt.update()).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/signatures do not verify/) });
    expect(await apt.listsUpdatedAt()).toBeNull();
  }, 300_000);

  it('keeps using stale lists when a refresh fails, with a warning', async () => {
    const dir = join(base, 'apt');
    const stale = privateApt({ dir, maxAgeMs: 0, source: { mirror: 'http://127.0.0.1:9/debian', securityMirror: 'http://127.0.0.1:9/debian-security' } });
    const before = await stale.listsUpdatedAt();
    const warnings: string[] = [];
    await stale.ensureFresh((stage, m) => void (stage === 'apt-update' && m?.startsWith('warning:') && warnings.push(m)));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/cannot refresh/);
    expect(await stale.listsUpdatedAt()).toBe(before);
    // And with no lists at all, the failure is the error.
    const none = privateApt({ dir: join(base, 'apt-offline'), source: { mirror: 'http://127.0.0.1:9/debian', securityMirror: 'http://127.0.0.1:9/debian-security' } });
    await expect(none.ensureFresh()).rejects.toThrow(/cannot refresh banger's Debian package lists from http:\/\/127.0.0.1:9\/debian/);
  }, 120_000);

  it('says how to get the keyring when it is missing', async () => {
    const apt = privateApt({ dir: join(base, 'apt-nokey'), keyring: join(base, 'no-such-keyring.gpg') });
    await expect(apt.ensureFresh()).rejects.toThrow(/apt-get install debian-archive-keyring/);
  });
});
