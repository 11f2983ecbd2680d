#!/usr/bin/env node
// E2B endpoint bench: through the published `e2b` SDK against one real guest in an isolated install,
// medians, each against a baseline measured in the same run:
//   commands.run('true')  vs  banger vm exec -- true  vs  ssh through an OpenSSH ControlMaster
//   files.write of 500 small files (one call) and of one 50 MB file  vs  tar -c | ssh (ControlMaster) tar -x
//   Sandbox.create to the first command's result (warm: the image's warm snapshot exists)
// Run after `node scripts/build.mjs && npm run build:fixtures`:  node bench/e2b.bench.mjs [--samples 10] [--rounds 3]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sandbox } from 'e2b';
import { freshInstall } from '../.tmp/test-dist/test/install.fixture.js';
import { call } from '../dist/api/client.js';
import { resolvePaths } from '../dist/store/paths.js';
import { run, spawnProcess } from '../dist/host/exec.js';
import { median } from './lib.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SAMPLES = arg('samples', 10);
const ROUNDS = arg('rounds', 3);
const ms = (x) => `${x.toFixed(0)} ms`;
const SLOW = { requestTimeoutMs: 900_000 };

async function timed(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}
async function sample(n, fn) {
  await fn(); // warm-up, not counted
  const xs = [];
  for (let i = 0; i < n; i++) xs.push(await timed(fn));
  return median(xs);
}
async function pipeline(stages) {
  const procs = [];
  for (let i = 0; i < stages.length; i++) {
    const p = spawnProcess(stages[i], { stdio: [i === 0 ? 'ignore' : 'pipe', i === stages.length - 1 ? 'ignore' : 'pipe', 'inherit'] });
    if (i > 0) procs[i - 1].child.stdout.pipe(p.child.stdin);
    procs.push(p);
  }
  const codes = await Promise.all(procs.map((p) => p.exit));
  if (codes.some((c) => c !== 0)) throw new Error(`pipeline failed ${JSON.stringify(codes)}`);
}

const inst = await freshInstall();
const work = mkdtempSync(join(tmpdir(), 'bb-e2b-'));
let master;
try {
  const env = (await inst.cli(['serve', '--print-env'], { check: true })).stdout;
  for (const line of env.trim().split('\n')) {
    const [, k, v] = /^export (E2B_[A-Z_]+)=(.*)$/.exec(line);
    process.env[k] = v;
  }
  const socket = resolvePaths(inst.env).daemonSocket;
  // The first create builds the image's warm snapshot; not counted.
  console.log('first Sandbox.create (builds the warm snapshot, not counted)...');
  await (await Sandbox.create(SLOW)).kill();
  const createToFirst = [];
  for (let r = 0; r < ROUNDS; r++) {
    createToFirst.push(
      await timed(async () => {
        const s = await Sandbox.create(SLOW);
        await s.commands.run('true');
        await s.kill();
      }),
    );
  }
  const sbx = await Sandbox.create({ ...SLOW, timeoutMs: 3_600_000 });
  const name = sbx.sandboxId;
  const info = await call(socket, 'vm.sshInfo', { name });
  const sshBase = ['-i', info.keyPath, '-o', `UserKnownHostsFile=${info.knownHostsPath}`, '-o', `HostKeyAlias=${info.hostKeyAlias}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes', '-o', 'LogLevel=ERROR', '-p', String(info.port)];
  const sock = join(work, 'cm.sock');
  master = spawnProcess(['ssh', ...sshBase, '-M', '-S', sock, '-N', `${info.user}@${info.host}`], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
  const viaMaster = (cmd) => ['ssh', ...sshBase, '-S', sock, '-o', 'ControlMaster=no', `${info.user}@${info.host}`, cmd];

  const runSdk = await sample(SAMPLES, () => sbx.commands.run('true'));
  const runCli = await sample(SAMPLES, () => inst.cli(['vm', 'exec', name, '--', 'true'], { check: true }));
  const runSsh = await sample(SAMPLES, () => run(viaMaster('true')));

  const small = join(work, 'small');
  mkdirSync(small);
  const files = Array.from({ length: 500 }, (_, i) => {
    const data = `file ${i} ${'x'.repeat(i % 200)}\n`;
    writeFileSync(join(small, `f${i}.txt`), data);
    return { name: `f${i}.txt`, data };
  });
  const big = Buffer.alloc(50 * 1024 * 1024, 7);
  writeFileSync(join(work, 'big.bin'), big);
  const w = { sdkSmall: [], tarSmall: [], sdkBig: [], tarBig: [] };
  for (let r = 0; r < ROUNDS; r++) {
    w.sdkSmall.push(await timed(() => sbx.files.write(files.map((f) => ({ path: `/root/s${r}/${f.name}`, data: f.data })))));
    w.tarSmall.push(await timed(() => pipeline([['tar', '-c', '-f', '-', '-C', small, '.'], viaMaster(`mkdir -p /root/t${r} && tar -x -C /root/t${r}`)])));
    w.sdkBig.push(await timed(() => sbx.files.write(`/root/big${r}.bin`, big)));
    w.tarBig.push(await timed(() => pipeline([['tar', '-c', '-f', '-', '-C', work, 'big.bin'], viaMaster(`mkdir -p /root/tb${r} && tar -x -C /root/tb${r}`)])));
  }
  const check = await sbx.commands.run('ls /root/s0 | wc -l; stat -c %s /root/big0.bin');
  if (check.stdout.trim() !== `500\n${big.length}`) throw new Error(`writes did not land: ${check.stdout}`);
  await sbx.kill();

  const m = (xs) => median(xs);
  console.log(`e2b bench (medians; ${SAMPLES} samples for run, ${ROUNDS} rounds for writes and create)`);
  console.log(`  commands.run('true') via SDK:       ${ms(runSdk)}   vs banger vm exec ${ms(runCli)} (ratio ${(runSdk / runCli).toFixed(2)})   vs ssh ControlMaster ${ms(runSsh)} (ratio ${(runSdk / runSsh).toFixed(2)})`);
  console.log(`  files.write 500 small files:        ${ms(m(w.sdkSmall))}   vs tar | ssh (ControlMaster) ${ms(m(w.tarSmall))}   ratio ${(m(w.sdkSmall) / m(w.tarSmall)).toFixed(2)}`);
  console.log(`  files.write one 50 MB file:         ${ms(m(w.sdkBig))}   vs tar | ssh (ControlMaster) ${ms(m(w.tarBig))}   ratio ${(m(w.sdkBig) / m(w.tarBig)).toFixed(2)}`);
  console.log(`  Sandbox.create → first command (warm): ${ms(m(createToFirst))}`);
} finally {
  master?.kill('SIGKILL');
  await inst.destroy();
  rmSync(work, { recursive: true, force: true });
}
