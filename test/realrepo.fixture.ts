/**
 * A real-shaped repository for transfer benches: the source files of the packages under this
 * checkout's node_modules (code, typings, JSON, docs; not thousands of copies of one small file),
 * copied under `vendor/` in sorted order until both targets are met, in three commits (the last one
 * also edits files), so its history, pack and index look like a project's. Deterministic for one
 * node_modules. Not imported by production code.
 */
import { copyFileSync, mkdirSync, readdirSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { run } from '../src/host/exec.js';
import { REPO } from './install.fixture.js';

export interface RealRepo {
  root: string;
  files: number;
  bytes: number;
  commits: number;
}

const SOURCE = /\.(m?[jt]sx?|c[jt]s|d\.ts|json|md|css|html|ya?ml)$/;
const MAX_FILE = 2 << 20;

function collect(from: string, want: { files: number; bytes: number }): Array<{ path: string; size: number }> {
  const out: Array<{ path: string; size: number }> = [];
  let bytes = 0;
  const walk = (d: string): boolean => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } catch {
      return false;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (e.name === '.bin' || e.name === '.cache') continue;
        if (walk(p)) return true;
      } else if (e.isFile() && SOURCE.test(e.name)) {
        const size = statSync(p).size;
        if (size === 0 || size > MAX_FILE) continue;
        out.push({ path: p, size });
        bytes += size;
        if (out.length >= want.files && bytes >= want.bytes) return true;
      }
    }
    return false;
  };
  walk(from);
  return out;
}

/** Builds the repo at `root` (must not exist): at least `files` files and `bytes` bytes. */
export async function makeRealRepo(root: string, want = { files: 4800, bytes: 46e6 }): Promise<RealRepo> {
  const nm = join(REPO, 'node_modules');
  const picked = collect(nm, want);
  const env = { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b', GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z', GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z' };
  mkdirSync(root, { recursive: true });
  await run(['git', 'init', '-q', '-b', 'main', root], { env });
  writeFileSync(join(root, 'README.md'), '# vendored sources (bench repo)\n');
  const cuts = [Math.floor(picked.length * 0.7), Math.floor(picked.length * 0.95), picked.length];
  let from = 0;
  for (const [i, cut] of cuts.entries()) {
    for (const f of picked.slice(from, cut)) {
      const dest = join(root, 'vendor', relative(nm, f.path));
      mkdirSync(dirname(dest), { recursive: true });
      copyFileSync(f.path, dest);
    }
    if (i === cuts.length - 1) {
      // The last commit also edits files of the first one, as a project's history does.
      for (const f of picked.slice(0, 200)) appendFileSync(join(root, 'vendor', relative(nm, f.path)), '\n');
    }
    from = cut;
    await run(['git', '-C', root, 'add', '-A'], { env });
    await run(['git', '-C', root, 'commit', '-q', '-m', `commit ${i + 1}`], { env });
  }
  return { root, files: picked.length + 1, bytes: picked.reduce((n, f) => n + f.size, 0), commits: cuts.length };
}
