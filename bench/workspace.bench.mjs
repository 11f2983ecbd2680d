#!/usr/bin/env node
// Workspace bench: prepare vs `git ls-files -z | tar --null -T - -c | ssh guest tar -x`, and export of
// 1,000 changed files vs `ssh guest git diff`, on a repo of >= 10,000 files built here, against one
// real VM booted through the CLI in an isolated install (own XDG dirs and daemon, like the test fixture).
// Run after `node scripts/build.mjs`:  node bench/workspace.bench.mjs [--files 10000] [--rounds 3]
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, chmodSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshInstall } from '../.tmp/test-dist/test/install.fixture.js';
import { call } from '../dist/api/client.js';
import { resolvePaths } from '../dist/store/paths.js';
import { run, spawnProcess } from '../dist/host/exec.js';
import { median } from './lib.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const FILES = arg('files', 10_000);
const ROUNDS = arg('rounds', 3);
const CHANGED = arg('changed', 1_000);
const secs = (ms) => `${(ms / 1000).toFixed(2)}s`;

/** Source-like text of about `size` bytes: compressible like real code, different per file. */
function text(i, size) {
  const lines = [];
  let n = 0;
  for (let l = 0; n < size; l++) {
    const line = `export function f${i}_${l}(x: number): number { return x * ${(i * 31 + l) % 977} + ${l}; } // ${'abcdefghij'.slice(0, (i + l) % 10)}\n`;
    lines.push(line);
    n += line.length;
  }
  return lines.join('');
}

async function buildRepo(root) {
  mkdirSync(root, { recursive: true });
  const dirs = 100;
  let bytes = 0;
  for (let i = 0; i < FILES; i++) {
    const d = join(root, `pkg${String(i % dirs).padStart(3, '0')}`, `mod${i % 7}`);
    mkdirSync(d, { recursive: true });
    const body = text(i, 400 + ((i * 7919) % 3000));
    bytes += body.length;
    const p = join(d, `file${i}.ts`);
    writeFileSync(p, body);
    if (i % 97 === 0) chmodSync(p, 0o755);
  }
  symlinkSync('pkg000', join(root, 'link-to-pkg000'));
  const env = { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' };
  await run(['git', 'init', '-q', '-b', 'main', root], { env });
  await run(['git', '-C', root, 'add', '-A'], { env });
  await run(['git', '-C', root, 'commit', '-q', '-m', 'bench repo'], { env });
  return bytes;
}

/** Runs a pipeline of argv arrays (stdout → stdin), returns elapsed ms; the last stage's stdout goes to `out` (a path) or is discarded. */
async function pipeline(stages, out) {
  const t0 = performance.now();
  const procs = [];
  for (let i = 0; i < stages.length; i++) {
    const last = i === stages.length - 1;
    const p = spawnProcess(stages[i], { stdio: [i === 0 ? 'ignore' : 'pipe', last && !out ? 'ignore' : 'pipe', 'inherit'] });
    if (i > 0) procs[i - 1].child.stdout.pipe(p.child.stdin);
    procs.push(p);
  }
  let outBytes = 0;
  if (out) {
    const chunks = [];
    procs.at(-1).child.stdout.on('data', (c) => chunks.push(c));
    await procs.at(-1).exit;
    const buf = Buffer.concat(chunks);
    outBytes = buf.length;
    writeFileSync(out, buf);
  }
  const codes = await Promise.all(procs.map((p) => p.exit));
  const ms = performance.now() - t0;
  if (codes.some((c) => c !== 0)) throw new Error(`pipeline failed ${JSON.stringify(codes)}: ${stages.map((s) => s.join(' ')).join(' | ')}`);
  return { ms, outBytes };
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'banger-bench-'));
  const repo = join(work, 'repo');
  console.log(`building a ${FILES}-file repo in ${repo} ...`);
  const bytes = await buildRepo(repo);
  const count = (await run(['git', '-C', repo, 'ls-files'])).stdout.split('\n').filter(Boolean).length;
  console.log(`repo: ${count} tracked files, ${(bytes / 1e6).toFixed(1)} MB`);

  const inst = await freshInstall();
  const socket = resolvePaths(inst.env).daemonSocket;
  const api = (method, params) => call(socket, method, params);
  let master;
  try {
    const t0 = performance.now();
    const c = await inst.cli(['vm', 'create', '--name', 'bench']);
    if (c.code !== 0) throw new Error(`vm create: ${c.stderr}`);
    console.log(`VM booted in ${secs(performance.now() - t0)}`);
    const info = await api('vm.sshInfo', { name: 'bench' });
    const sshBase = ['-i', info.keyPath, '-o', `UserKnownHostsFile=${info.knownHostsPath}`, '-o', `HostKeyAlias=${info.hostKeyAlias}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes', '-o', 'LogLevel=ERROR', '-p', String(info.port)];
    const ssh = (cmd, extra = []) => ['ssh', ...sshBase, ...extra, `${info.user}@${info.host}`, cmd];
    const guest = async (cmd) => {
      const r = await api('vm.exec', { name: 'bench', argv: ['sh', '-c', cmd], cwd: '/root' });
      if (r.exitCode !== 0) throw new Error(`guest: ${cmd} exited ${r.exitCode}`);
    };
    // A persistent OpenSSH connection, for a baseline without the per-run handshake.
    const sock = join(work, 'cm.sock');
    master = spawnProcess(['ssh', ...sshBase, '-M', '-S', sock, '-N', `${info.user}@${info.host}`], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSock(sock); i++) await new Promise((r) => setTimeout(r, 100));
    const viaMaster = ['-S', sock, '-o', 'ControlMaster=no'];

    const base = { fresh: [], master: [] };
    const prep = { api: [], cli: [], host: [] };
    for (let r = 0; r < ROUNDS; r++) {
      const lsTar = [['git', '-C', repo, 'ls-files', '-z'], ['tar', '-c', '-f', '-', '-C', repo, '--null', '-T', '-']];
      base.fresh.push((await pipeline([...lsTar, ssh(`mkdir -p /root/b${r} && tar -x -C /root/b${r}`)])).ms);
      base.master.push((await pipeline([...lsTar, ssh(`mkdir -p /root/m${r} && tar -x -C /root/m${r}`, viaMaster)])).ms);
      let t = performance.now();
      let hostMs = 0;
      const res = await call(socket, 'workspace.prepare', { name: 'bench', hostPath: repo, guestPath: `/root/w${r}` }, {
        onProgress: (e) => {
          if (e.stage === 'copy' && !hostMs) hostMs = e.elapsedMs;
        },
      });
      prep.api.push(performance.now() - t);
      prep.host.push(hostMs);
      t = performance.now();
      const cli = await inst.cli(['vm', 'workspace', 'prepare', 'bench', repo, '--guest-path', `/root/c${r}`]);
      prep.cli.push(performance.now() - t);
      if (cli.code !== 0) throw new Error(`prepare (cli): ${cli.stderr}`);
      console.log(
        `round ${r + 1}: baseline ssh ${secs(base.fresh[r])}, baseline ssh (ControlMaster) ${secs(base.master[r])}, prepare api ${secs(prep.api[r])} (host side ${secs(hostMs)}, pack ${(res.packBytes / 1e6).toFixed(1)} MB), prepare cli ${secs(prep.cli[r])}`,
      );
      await guest(`rm -rf /root/b${r} /root/m${r} /root/c${r}` + (r > 0 ? ` /root/w${r}` : ''));
    }

    // Export: change CHANGED files in the first workspace.
    await guest(`cd /root/w0 && git ls-files '*.ts' | head -n ${CHANGED} | while IFS= read -r f; do echo "// changed in the guest" >> "$f"; done`);
    const exp = { api: [], cli: [], fresh: [], master: [] };
    let sizes = {};
    for (let r = 0; r < ROUNDS; r++) {
      let t = performance.now();
      const chunks = [];
      const res = await call(socket, 'workspace.export', { name: 'bench', guestPath: '/root/w0' }, { onStream: (_s, d) => chunks.push(d) });
      exp.api.push(performance.now() - t);
      if (res.files.length !== CHANGED) throw new Error(`export listed ${res.files.length} files, expected ${CHANGED}`);
      t = performance.now();
      const cli = await inst.cli(['vm', 'workspace', 'export', 'bench', '--guest-path', '/root/w0', '-o', join(work, 'ours.patch')]);
      exp.cli.push(performance.now() - t);
      if (cli.code !== 0) throw new Error(`export (cli): ${cli.stderr}`);
      const f = await pipeline([ssh('cd /root/w0 && git diff')], join(work, 'theirs.patch'));
      exp.fresh.push(f.ms);
      exp.master.push((await pipeline([ssh('cd /root/w0 && git diff', viaMaster)], join(work, 'theirs2.patch'))).ms);
      sizes = { ours: statSync(join(work, 'ours.patch')).size, theirs: f.outBytes };
      console.log(`export round ${r + 1}: api ${secs(exp.api[r])}, cli ${secs(exp.cli[r])}, ssh git diff ${secs(exp.fresh[r])}, ssh (ControlMaster) git diff ${secs(exp.master[r])}`);
    }

    const m = (xs) => median(xs);
    console.log('\nmedians:');
    console.log(`  prepare (api)  ${secs(m(prep.api))}   vs baseline tar|ssh ${secs(m(base.fresh))}: ratio ${(m(prep.api) / m(base.fresh)).toFixed(2)}   vs ControlMaster ${secs(m(base.master))}: ratio ${(m(prep.api) / m(base.master)).toFixed(2)}`);
    console.log(`  prepare host-side planning and packing: ${secs(m(prep.host))}`);
    console.log(`  prepare (cli)  ${secs(m(prep.cli))}   ratio vs baseline ${(m(prep.cli) / m(base.fresh)).toFixed(2)}, vs ControlMaster ${(m(prep.cli) / m(base.master)).toFixed(2)}`);
    console.log(`  export (api)   ${secs(m(exp.api))}   vs ssh git diff ${secs(m(exp.fresh))}: ratio ${(m(exp.api) / m(exp.fresh)).toFixed(2)}   vs ControlMaster ${secs(m(exp.master))}: ratio ${(m(exp.api) / m(exp.master)).toFixed(2)}`);
    console.log(`  export (cli)   ${secs(m(exp.cli))}   ratio vs ssh git diff ${(m(exp.cli) / m(exp.fresh)).toFixed(2)}, vs ControlMaster ${(m(exp.cli) / m(exp.master)).toFixed(2)}`);
    console.log(`  patch sizes: export ${sizes.ours} bytes, git diff ${sizes.theirs} bytes`);
  } finally {
    master?.kill('SIGTERM');
    await inst.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}

function existsSock(p) {
  try {
    return statSync(p).isSocket();
  } catch {
    return false;
  }
}

await main();
