// Issue 14 bench: `banger image pull REF` from a real registry on 127.0.0.1 (Debian's
// docker-registry) against the baseline `skopeo copy` of the same image to a local OCI directory
// (ratio), a second pull that finds every layer in banger's blob cache (ratio to the first), and the
// size on disk (ext4 apparent and allocated, blob cache). The image: a busybox-static root plus two
// layers of host files (/usr/lib/python3, /usr/share/perl), gzip, written as an OCI layout here and
// pushed with skopeo. Runs the real CLI against an isolated install.
//   node bench/oci.bench.mjs
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, isolatedEnv, mib, sec } from './lib.mjs';

const repo = new URL('..', import.meta.url).pathname;
const root = mkdtempSync('/tmp/bb-oci-');
const env = isolatedEnv(root);
const timed = (argv, opts = {}) => {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { env, encoding: 'utf8', ...opts });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  return { ms, out: r.stdout };
};
const banger = (...args) => timed([process.execPath, join(repo, 'bin', 'banger'), ...args]);
const s = (ms) => sec(ms);
const mb = (b) => mib(b, 1);
const du = (p, apparent = false) => Number(execFileSync('du', ['-s', '-B1', ...(apparent ? ['--apparent-size'] : []), '--', p], { encoding: 'utf8' }).split('\t')[0]);
const sha = (b) => createHash('sha256').update(b).digest('hex');

/** An OCI layout whose layers are `tar -C dir -cz paths` (gzip), one per spec. */
function writeLayout(dir, layers) {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (buf) => {
    const hex = sha(buf);
    writeFileSync(join(dir, 'blobs', 'sha256', hex), buf);
    return { digest: `sha256:${hex}`, size: buf.length };
  };
  const descs = [];
  const diffIds = [];
  for (const [cwd, paths] of layers) {
    const raw = execFileSync('tar', ['-C', cwd, '--numeric-owner', '-cf', '-', ...paths], { maxBuffer: 2 ** 31 });
    diffIds.push(`sha256:${sha(raw)}`);
    descs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(execFileSync('gzip', ['-1', '-c'], { input: raw, maxBuffer: 2 ** 31 })) });
  }
  const config = put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/usr/bin:/bin'] }, rootfs: { type: 'layers', diff_ids: diffIds } })));
  const manifest = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: descs })));
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }));
  return descs.reduce((n, d) => n + d.size, 0);
}

let registry;
try {
  const port = await freePort();
  writeFileSync(join(root, 'registry.yml'), `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(root, 'registry')}\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  registry = spawn('docker-registry', ['serve', join(root, 'registry.yml')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if ((await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status, () => 0)) === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const base = join(root, 'base');
  mkdirSync(join(base, 'bin'), { recursive: true });
  writeFileSync(join(base, 'bin', 'busybox'), readFileSync('/bin/busybox'), { mode: 0o755 });
  const compressed = writeLayout(join(root, 'layout'), [
    [base, ['bin']],
    ['/', ['usr/lib/python3']],
    ['/', ['usr/share/perl']],
  ]);
  const ref = `127.0.0.1:${port}/bench/app:1`;
  execFileSync('skopeo', ['copy', '--dest-tls-verify=false', `oci:${join(root, 'layout')}:latest`, `docker://${ref}`], { stdio: 'ignore' });

  banger('daemon', 'status'); // start the daemon outside the timings
  const baseline = timed(['skopeo', 'copy', '--src-tls-verify=false', `docker://${ref}`, `oci:${join(root, 'skopeo-out')}:x`]);
  const first = banger('image', 'pull', '--insecure', '--name', 'first', '--json', ref);
  const second = banger('image', 'pull', '--insecure', '--name', 'second', ref);
  const small = banger('image', 'pull', '--insecure', '--name', 'small', '--size', '512M', ref);
  const m = JSON.parse(first.out);
  const rootfs = join(env.XDG_STATE_HOME, 'banger', 'images', m.sha256, 'rootfs.ext4');
  console.log(`oci bench (isolated install; image: 3 gzip layers, ${mb(compressed)} compressed, pushed to a local registry)`);
  console.log(`  skopeo copy docker:// → oci: (baseline):        ${s(baseline.ms)}`);
  console.log(`  banger image pull, first (empty blob cache):     ${s(first.ms)}  ratio to skopeo ${(first.ms / baseline.ms).toFixed(1)}`);
  console.log(`  banger image pull, second (every layer cached):  ${s(second.ms)}  ratio to first ${(second.ms / first.ms).toFixed(2)}`);
  console.log(`  banger image pull, cached, --size 512M:          ${s(small.ms)}  ratio to skopeo ${(small.ms / baseline.ms).toFixed(1)} (the default 4G ext4 costs its sha256 over 4G)`);
  console.log(`  rootfs.ext4: ${mb(du(rootfs, true))} apparent, ${mb(du(rootfs))} allocated; blob cache ${mb(du(join(env.XDG_CACHE_HOME, 'banger', 'oci-blobs')))}`);
} finally {
  spawnSync(process.execPath, [join(repo, 'bin', 'banger'), 'daemon', 'stop'], { env });
  registry?.kill();
  rmSync(root, { recursive: true, force: true });
}
