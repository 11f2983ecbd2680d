/**
 * mise for the default image: its Linux binary is published on the npm registry as an arch
 * package (@jdxcode/mise-linux-x64, the one the main package's preinstall picks). The build
 * fetches that tarball once, checks it against the sha512 pinned here (the registry's
 * `dist.integrity`), and keeps the extracted binary in banger's cache; build.ts copies it to
 * /usr/local/bin/mise in the image. Pinned, so an image build never picks up an unreviewed binary.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BangerError } from '../../api/errors.js';
import { noProgress, type Progress } from '../../api/progress.js';
import { run } from '../../host/exec.js';
import { hostFetch } from '../../host/fetch.js';

export interface MisePin {
  version: string;
  /** npm package of the binary for this architecture. */
  pkg: string;
  /** `dist.integrity` from the registry: sha512, base64. */
  integrity: string;
}

/** `npm view @jdxcode/mise-linux-x64@VERSION dist.integrity` (checked 2026-12). */
export const MISE_PINS: Readonly<Record<string, MisePin>> = {
  x64: {
    version: '2026.9.15',
    pkg: '@jdxcode/mise-linux-x64',
    integrity: 'sha512-ButPFGyztN0Rk/HOHvHuf+W80CkvQRAjbDWHvhGJc3PnL3e2KhCYZIOyjx8wPkhr9VJa/7sJZXpxtt5JLjsfaQ==',
  },
};

export const NPM_REGISTRY = 'https://registry.npmjs.org';

/** The tarball URL of a pin (npm's layout: SCOPE/NAME/-/NAME-VERSION.tgz). Pure. */
export function tarballUrl(pin: MisePin, registry = NPM_REGISTRY): string {
  const bare = pin.pkg.split('/').pop()!;
  return `${registry.replace(/\/+$/, '')}/${pin.pkg}/-/${bare}-${pin.version}.tgz`;
}

/** Whether `data`'s sha512 is the pinned integrity; throws a clear error when not. */
export function checkIntegrity(what: string, integrity: string, actualSha512: Buffer): void {
  const m = /^sha512-(.+)$/.exec(integrity);
  if (!m) throw new BangerError('internal', `unsupported integrity ${integrity} for ${what}`);
  const actual = `sha512-${actualSha512.toString('base64')}`;
  if (actual !== integrity) {
    throw new BangerError('unavailable', `checksum mismatch for ${what}: expected ${integrity}, got ${actual}; the download is corrupt or was tampered with, so the image was not built`);
  }
}

/**
 * The verified mise binary in `cacheDir` (downloaded and checked on first use), or null when no
 * binary is pinned for this architecture (the image is built without mise).
 */
export async function fetchMise(cacheDir: string, progress: Progress = noProgress, arch: string = process.arch, registry = process.env.BANGER_NPM_REGISTRY || NPM_REGISTRY): Promise<string | null> {
  const pin = MISE_PINS[arch];
  if (!pin) return null;
  const dir = join(cacheDir, `mise-${pin.version}-${arch}`);
  const bin = join(dir, 'mise');
  if ((await stat(bin).catch(() => null))?.isFile()) return bin;
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    const url = tarballUrl(pin, registry);
    progress('mise', `fetching mise ${pin.version} from ${url}`);
    const res = await hostFetch(url).catch((err: Error) => {
      throw new BangerError('unavailable', `cannot fetch mise from ${url}: ${err.message}; the default image needs it (or build \`--variant minimal\`)`, { cause: err });
    });
    if (!res.ok || !res.body) throw new BangerError('unavailable', `GET ${url}: HTTP ${res.status}; the default image needs mise (or build \`--variant minimal\`)`);
    const tgz = join(tmp, 'mise.tgz');
    const hash = createHash('sha512');
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
    body.on('data', (b: Buffer) => hash.update(b));
    await pipeline(body, createWriteStream(tgz));
    checkIntegrity(`${pin.pkg}@${pin.version}`, pin.integrity, hash.digest());
    await run(['tar', '-xzf', tgz, '-C', tmp, '--no-same-owner', 'package/bin/mise']);
    await rename(join(tmp, 'package', 'bin', 'mise'), join(tmp, 'mise'));
    await chmod(join(tmp, 'mise'), 0o755);
    await rm(tgz);
    await rm(join(tmp, 'package'), { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    return bin;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
