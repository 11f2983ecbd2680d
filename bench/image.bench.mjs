// Image bench (issue 17): the rich default image against the minimal one, in the same run.
//
//   size    rootfs.ext4 blocks on disk of each golden image, and how long its golden build took
//   warm    `banger vm run --rm -- true` restoring each image's warm snapshot (rounds alternate)
//   docker  `docker run --rm` of a busybox-static image (imported in the guest) through `vm exec`
//
// The golden installs (test/install.fixture.ts goldenState 'minimal' and 'default') are built on
// first use; their build time is read from their READY file. The first run of each install builds
// its warm snapshot and is reported apart.
//   node bench/image.bench.mjs
// Knobs: BENCH_ROUNDS (default 3).
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../.tmp/test-dist/src/host/exec.js';
import { freshInstall, goldenState } from '../.tmp/test-dist/test/install.fixture.js';
import { median, benchLog, mib, sec } from './lib.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const log = benchLog('image.bench');

function goldenFacts(root) {
  const images = join(root, 'state', 'banger', 'images');
  const dir = join(images, readdirSync(images)[0]);
  const st = statSync(join(dir, 'rootfs.ext4'));
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  const built = /built in (\d+) ms/.exec(readFileSync(join(root, 'READY'), 'utf8'));
  return { diskBytes: st.blocks * 512, packages: manifest.packages.length, buildMs: built ? Number(built[1]) : null };
}

const variants = ['minimal', 'default'];
const facts = {};
for (const v of variants) facts[v] = goldenFacts(await goldenState(v));

const insts = {};
const banger = async (inst, args, input) => {
  const t0 = performance.now();
  const r = await inst.cli(args, { input });
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(`banger ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return { ms, ...r };
};

try {
  for (const v of variants) insts[v] = await freshInstall(v);
  const first = {};
  for (const v of variants) {
    log(`${v}: first vm run (builds the warm snapshot)`);
    first[v] = (await banger(insts[v], ['vm', 'run', '--rm', '--', 'true'])).ms;
  }
  const warm = { minimal: [], default: [] };
  for (let i = 0; i < ROUNDS; i++) {
    for (const v of variants) warm[v].push((await banger(insts[v], ['vm', 'run', '--rm', '--', 'true'])).ms);
    log(`round ${i + 1}/${ROUNDS}: minimal ${sec(warm.minimal.at(-1))}, default ${sec(warm.default.at(-1))}`);
  }

  log('docker: busybox-static image imported in a default-image guest');
  const d = insts.default;
  const tmp = join(d.root, 'bb');
  mkdirSync(join(tmp, 'bin'), { recursive: true });
  await run(['cp', '/bin/busybox', join(tmp, 'bin', 'busybox')]);
  await run(['tar', '-C', tmp, '-cf', join(d.root, 'bb.tar'), '.']);
  await banger(d, ['vm', 'create', '--name', 'dk']);
  const firstDocker = await banger(d, ['vm', 'exec', 'dk', '--', 'docker', 'info', '--format', '{{.Driver}}']);
  await banger(d, ['vm', 'exec', 'dk', '--', 'docker', 'import', '-', 'bb:bench'], readFileSync(join(d.root, 'bb.tar')));
  const dockerRuns = [];
  for (let i = 0; i < ROUNDS; i++) dockerRuns.push((await banger(d, ['vm', 'exec', 'dk', '--', 'docker', 'run', '--rm', 'bb:bench', '/bin/busybox', 'true'])).ms);
  const execTrue = [];
  for (let i = 0; i < ROUNDS; i++) execTrue.push((await banger(d, ['vm', 'exec', 'dk', '--', 'true'])).ms);

  const wm = median(warm.minimal);
  const wd = median(warm.default);
  const lines = [
    `image bench (TCG where KVM is unusable; medians of ${ROUNDS})`,
    ...variants.map(
      (v) => `  ${v.padEnd(8)} image: ${mib(facts[v].diskBytes)} on disk, ${facts[v].packages} packages, golden build (kernel pull + image build) ${facts[v].buildMs === null ? '?' : sec(facts[v].buildMs)}`,
    ),
    ...variants.map((v) => `  ${v.padEnd(8)} first vm run --rm -- true (builds the warm snapshot): ${sec(first[v])}`),
    ...variants.map((v) => `  ${v.padEnd(8)} warm vm run --rm -- true: ${sec(median(warm[v]))}  [${warm[v].map((ms) => sec(ms)).join(', ')}]`),
    `  ratio warm default / minimal: ${(wd / wm).toFixed(2)}`,
    `  first docker command (socket-activated dockerd + containerd start): ${sec(firstDocker.ms)}`,
    `  docker run --rm busybox true through vm exec: ${sec(median(dockerRuns))}  [${dockerRuns.map((ms) => sec(ms)).join(', ')}]; vm exec true alone: ${sec(median(execTrue))}`,
  ];
  console.log(lines.join('\n'));
} finally {
  for (const v of variants) await insts[v]?.destroy();
}
