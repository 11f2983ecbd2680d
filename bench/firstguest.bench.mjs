// Issue 10 bench: a fresh machine to its first guest, whole time, as root and as a fresh non-root
// user (rootless: subordinate id ranges, no root helper). Each starts from an empty install and an
// empty cache: kernel pull, image build, warm snapshot, `vm run -- true`. Run as root (it creates the
// temporary user and removes it afterwards).
//   node bench/firstguest.bench.mjs
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isolatedEnv, sec } from './lib.mjs';
import { createTempUser } from '../.tmp/test-dist/test/tempuser.fixture.js';

const repo = new URL('..', import.meta.url).pathname;
const s = (ms) => sec(ms, 1);

async function asRoot() {
  const root = mkdtempSync('/tmp/bb-fg-');
  const env = isolatedEnv(root);
  const banger = (...args) => spawnSync(process.execPath, [join(repo, 'bin', 'banger'), ...args], { env, encoding: 'utf8' });
  try {
    const t0 = Date.now();
    const r = banger('vm', 'run', '--rm', '--', 'true');
    if (r.status !== 0) throw new Error(`root vm run failed: ${r.stderr}`);
    return Date.now() - t0;
  } finally {
    banger('daemon', 'stop');
    spawnSync('pkill', ['-9', '-f', join(root, 'run')]);
    rmSync(root, { recursive: true, force: true });
  }
}

async function rootless() {
  const user = await createTempUser('bgb');
  try {
    const t0 = Date.now();
    const r = await user.banger(['vm', 'run', '--rm', '--', 'true'], { timeoutMs: 1_800_000 });
    if (r.code !== 0) throw new Error(`rootless vm run failed: ${r.stderr}`);
    return Date.now() - t0;
  } finally {
    await user.remove();
  }
}

const rootMs = await asRoot();
const userMs = await rootless();
console.log('first guest bench (empty install, empty cache: kernel pull + image build + warm snapshot + vm run --rm -- true)');
console.log(`  as root:                 ${s(rootMs)}`);
console.log(`  rootless (fresh user):   ${s(userMs)}  ratio ${(userMs / rootMs).toFixed(2)}`);
