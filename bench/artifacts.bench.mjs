// Issue 2 bench: first-build and cached-path times of the default kernel and image, and the
// image size. Runs the real CLI against an isolated install with an empty cache (true first build).
//   node bench/artifacts.bench.mjs
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isolatedEnv, sec } from './lib.mjs';

const repo = new URL('..', import.meta.url).pathname;
const root = mkdtempSync('/tmp/bb-art-');
const env = isolatedEnv(root);
const banger = (...args) => {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [join(repo, 'bin', 'banger'), ...args], { env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`banger ${args.join(' ')} failed: ${r.stderr}`);
  return { ms, out: r.stdout };
};
const s = (ms) => sec(ms, 1);

try {
  banger('daemon', 'status'); // start the daemon outside the timings
  const k1 = banger('kernel', 'pull');
  const k2 = banger('kernel', 'pull');
  const i1 = banger('image', 'build');
  const i2 = banger('image', 'build');
  const c = banger('vm', 'create', '--name', 'bench-cached', '--no-start');
  banger('vm', 'delete', 'bench-cached');
  const img = JSON.parse(banger('image', 'show', 'debian-bookworm').out);
  const rootfs = join(env.XDG_STATE_HOME, 'banger', 'images', img.sha256, 'rootfs.ext4');
  const used = Number(execFileSync('du', ['-B1', '--', rootfs], { encoding: 'utf8' }).split('\t')[0]);
  console.log('artifacts bench (isolated install, empty cache at start)');
  console.log(`  kernel pull, first (download + vmlinux + initramfs): ${s(k1.ms)}`);
  console.log(`  kernel pull, cached:                                  ${s(k2.ms)}  ratio ${(k2.ms / k1.ms).toFixed(2)}`);
  console.log(`  image build, first (mmdebstrap, empty apt cache):     ${s(i1.ms)}`);
  console.log(`  image build, again (apt archives reused):             ${s(i2.ms)}  ratio ${(i2.ms / i1.ms).toFixed(2)}`);
  console.log(`  vm create --no-start with the image present:          ${s(c.ms)}  ratio ${(c.ms / i1.ms).toFixed(3)}`);
  console.log(`  image: ${img.packages.length} packages, apparent ${(statSync(rootfs).size / 2 ** 30).toFixed(1)} GiB, on disk ${(used / 2 ** 20).toFixed(0)} MiB`);
} finally {
  spawnSync(process.execPath, [join(repo, 'bin', 'banger'), 'daemon', 'stop'], { env });
  rmSync(root, { recursive: true, force: true });
}
