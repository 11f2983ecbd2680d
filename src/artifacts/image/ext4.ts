/** Turning a directory tree into a sparse ext4 image: `mkfs.ext4 -d`, no mount, no loop device. */
import { open } from 'node:fs/promises';
import { BangerError } from '../../api/errors.js';
import { formatBytes } from '../../api/names.js';
import { run } from '../../host/exec.js';
import { findTool } from '../../host/tools.js';

export interface MakeExt4Options {
  sourceDir: string;
  output: string;
  sizeBytes: number;
  label?: string;
  /** Wraps the mkfs command (the ownership keeper's fakeroot for non-root builds). */
  wrap?: (argv: readonly string[]) => string[];
}

/**
 * Writes `output` as an ext4 file system of `sizeBytes` (sparse) holding a copy of `sourceDir`,
 * owners, modes, xattrs and hard links kept.
 */
export async function makeExt4(opts: MakeExt4Options): Promise<void> {
  const fh = await open(opts.output, 'w', 0o644);
  try {
    await fh.truncate(opts.sizeBytes);
  } finally {
    await fh.close();
  }
  const mkfs = await findTool('mkfs.ext4');
  if (mkfs === null) throw new BangerError('unavailable', 'mkfs.ext4 is not installed: `sudo apt-get install e2fsprogs`');
  const argv = [mkfs, '-q', '-F', '-L', opts.label ?? 'rootfs', '-E', 'root_owner=0:0', '-d', opts.sourceDir, opts.output];
  const r = await run(opts.wrap ? opts.wrap(argv) : argv, { check: false });
  if (r.code === 0) return;
  const tail = r.stderr.trim().split('\n').slice(-3).join('; ');
  if (/allocate|No space left|too small|Could not/i.test(r.stderr)) {
    const used = await treeBytes(opts.sourceDir).catch(() => null);
    throw new BangerError(
      'bad_request',
      `the image content${used === null ? '' : ` (${formatBytes(used)})`} does not fit in ${formatBytes(opts.sizeBytes)}; pass a larger --size (mkfs.ext4: ${tail})`,
    );
  }
  throw new BangerError('internal', `mkfs.ext4 failed with exit ${r.code}: ${tail}`);
}

/** Bytes used by a directory tree (`du`), for sizing imports and error messages. */
export async function treeBytes(dir: string): Promise<number> {
  const r = await run(['du', '-s', '--block-size=1', '-x', dir]);
  const n = Number(r.stdout.trim().split(/\s+/)[0]);
  if (!Number.isFinite(n)) throw new BangerError('internal', `cannot read du output for ${dir}`);
  return n;
}
