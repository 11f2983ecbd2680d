/**
 * Picks the initramfs modules out of a /lib/modules/<release> tree: finds each wanted module's
 * file, reads its dependencies from .modinfo, adds those, and orders the lot. Modules the kernel
 * has built in (listed in modules.builtin) are skipped. Compressed modules (.ko.xz/.zst/.gz) are
 * decompressed, since busybox insmod loads plain .ko files.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BangerError } from '../../api/errors.js';
import { run } from '../../host/exec.js';
import { parseModinfo } from './modinfo.js';
import { GUEST_MODULES, moduleLoadOrder, normaliseModuleName } from './modorder.js';

const MODULE_FILE = /\.ko(\.(xz|zst|gz))?$/;

export interface SelectedModule {
  /** Normalised module name (virtio_rng). */
  name: string;
  /** File name inside the initramfs' /lib/modules (virtio-rng.ko), always uncompressed. */
  file: string;
  data: Buffer;
}

/** Module name -> path relative to the tree, for every module file in it (first one wins). */
export async function indexModuleTree(releaseDir: string): Promise<Map<string, string>> {
  let files: string[];
  try {
    files = (await readdir(releaseDir, { recursive: true })) as string[];
  } catch (err) {
    throw new BangerError('bad_request', `cannot read the kernel modules tree ${releaseDir}: ${(err as Error).message}`, { cause: err });
  }
  const index = new Map<string, string>();
  for (const rel of files.sort()) {
    if (!MODULE_FILE.test(rel)) continue;
    const name = normaliseModuleName(rel);
    if (!index.has(name)) index.set(name, rel);
  }
  return index;
}

/** Names from modules.builtin (empty when the file is absent). */
export async function readBuiltinModules(releaseDir: string): Promise<Set<string>> {
  try {
    const text = await readFile(join(releaseDir, 'modules.builtin'), 'utf8');
    return new Set(text.split('\n').filter((l) => l.trim() !== '').map(normaliseModuleName));
  } catch {
    return new Set();
  }
}

async function readModule(path: string): Promise<Buffer> {
  const raw = await readFile(path);
  if (path.endsWith('.ko')) return raw;
  if (path.endsWith('.gz')) return gunzipSync(raw);
  const argv = path.endsWith('.xz') ? ['xz', '-dc'] : ['zstd', '-dc'];
  const r = await run(argv, { input: raw, binary: true, check: false }).catch((err) => {
    throw new BangerError('unavailable', `${argv[0]} is needed to read ${path}: install it (apt-get install ${argv[0] === 'xz' ? 'xz-utils' : 'zstd'})`, {
      cause: err,
    });
  });
  if (r.code !== 0) throw new BangerError('bad_request', `cannot decompress ${path}: ${r.stderr.trim()}`);
  return r.stdoutBytes;
}

/**
 * The modules to put in the initramfs, in load order. A wanted module that is neither in the
 * tree nor built in is an error; so is a missing dependency.
 */
export async function selectModules(releaseDir: string, wanted: readonly string[] = GUEST_MODULES): Promise<SelectedModule[]> {
  const index = await indexModuleTree(releaseDir);
  const builtin = await readBuiltinModules(releaseDir);
  const depends = new Map<string, string[]>();
  const data = new Map<string, { file: string; data: Buffer }>();
  const roots: string[] = [];

  const load = async (name: string): Promise<void> => {
    if (depends.has(name)) return;
    const rel = index.get(name);
    if (!rel) return; // moduleLoadOrder reports it, naming who needed it
    const buf = await readModule(join(releaseDir, rel));
    const info = parseModinfo(buf, rel);
    const deps = info.depends.map(normaliseModuleName);
    depends.set(name, deps);
    const base = rel.slice(rel.lastIndexOf('/') + 1).replace(/\.(xz|zst|gz)$/, '');
    data.set(name, { file: base, data: buf });
    for (const d of deps) await load(d);
  };

  for (const raw of wanted) {
    const name = normaliseModuleName(raw);
    if (!index.has(name)) {
      if (builtin.has(name)) continue;
      throw new BangerError('bad_request', `kernel module ${name} is neither in ${releaseDir} nor built into the kernel (modules.builtin)`, {
        details: { module: name },
      });
    }
    roots.push(name);
    await load(name);
  }
  return moduleLoadOrder(roots, depends).map((name) => ({ name, ...data.get(name)! }));
}
