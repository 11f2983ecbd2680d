#!/usr/bin/env node
// Transfer bench: workspace prepare and export on a real-shaped repo (the source files of the packages
// under node_modules: test/realrepo.fixture.ts, >= 4,800 files, >= 46 MB, three commits) against one
// real VM (warm-restored, isolated install), each figure a ratio against its baseline in this run:
//   prepare (bulk channel)  vs  git ls-files -z | tar --null -T - -c | ssh guest tar -x
//   prepare over SSH (the bulk socket hidden)  vs  the same baseline
//   export  vs  ssh guest git diff
// Also where prepare's time goes (host planning and bundle, then the copy), from its progress events.
// Run after `node scripts/build.mjs && npm run build:fixtures`:  node bench/transfer.bench.mjs [--rounds 3] [--changed 300] [--breakdown]
import { mkdtempSync, readdirSync, renameSync, rmSync, statSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshInstall } from '../.tmp/test-dist/test/install.fixture.js';
import { makeRealRepo } from '../.tmp/test-dist/test/realrepo.fixture.js';
import { call } from '../dist/api/client.js';
import { resolvePaths } from '../dist/store/paths.js';
import { spawnProcess } from '../dist/host/exec.js';
import { median } from './lib.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const ROUNDS = arg('rounds', 3);
const CHANGED = arg('changed', 300);
const secs = (ms) => `${(ms / 1000).toFixed(2)}s`;

/** Runs a pipeline of argv arrays (stdout → stdin); returns elapsed ms and the last stage's output size. */
async function pipeline(stages) {
  const t0 = performance.now();
  const procs = [];
  for (let i = 0; i < stages.length; i++) {
    const last = i === stages.length - 1;
    const p = spawnProcess(stages[i], { stdio: [i === 0 ? 'ignore' : 'pipe', 'pipe', 'inherit'] });
    if (i > 0) procs[i - 1].child.stdout.pipe(p.child.stdin);
    procs.push(p);
    if (last) p.child.stdout.on('data', (c) => (p.outBytes = (p.outBytes ?? 0) + c.length));
  }
  const codes = await Promise.all(procs.map((p) => p.exit));
  const ms = performance.now() - t0;
  if (codes.some((c) => c !== 0)) throw new Error(`pipeline failed ${JSON.stringify(codes)}: ${stages.map((s) => s.join(' ')).join(' | ')}`);
  return { ms, outBytes: procs.at(-1).outBytes ?? 0 };
}

async function main() {
  const work = mkdtempSync(join(tmpdir(), 'banger-transfer-'));
  const t0 = performance.now();
  const repo = await makeRealRepo(join(work, 'repo'));
  console.log(`real-shaped repo: ${repo.files} files, ${(repo.bytes / 1e6).toFixed(1)} MB, ${repo.commits} commits (built in ${secs(performance.now() - t0)})`);

  const inst = await freshInstall();
  const socket = resolvePaths(inst.env).daemonSocket;
  const api = (method, params, opts) => call(socket, method, params, opts);
  try {
    let t = performance.now();
    const c = await inst.cli(['vm', 'create', '--name', 'bench']);
    if (c.code !== 0) throw new Error(`vm create: ${c.stderr}`);
    console.log(`VM created in ${secs(performance.now() - t)} (${/restoring warm/.test(c.stderr) ? 'warm restore' : 'cold boot'})`);
    const info = await api('vm.sshInfo', { name: 'bench' });
    const sshBase = ['-i', info.keyPath, '-o', `UserKnownHostsFile=${info.knownHostsPath}`, '-o', `HostKeyAlias=${info.hostKeyAlias}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes', '-o', 'LogLevel=ERROR', '-p', String(info.port)];
    const ssh = (cmd) => ['ssh', ...sshBase, `${info.user}@${info.host}`, cmd];
    const guest = async (cmd) => {
      const r = await api('vm.exec', { name: 'bench', argv: ['sh', '-c', cmd], cwd: '/root' });
      if (r.exitCode !== 0) throw new Error(`guest: ${cmd} exited ${r.exitCode}`);
    };
    const vmsDir = join(inst.runtimeDir, 'vms');
    const bulkSock = readdirSync(vmsDir).map((id) => join(vmsDir, id, 'bulk.sock')).find((p) => {
      try {
        return lstatSync(p).isSocket();
      } catch {
        return false;
      }
    });
    if (!bulkSock) console.log('NOTE: the VM has no bulk socket; every prepare goes over SSH');

    const prepare = async (guestPath) => {
      const marks = {};
      const start = performance.now();
      const transports = [];
      const res = await api('workspace.prepare', { name: 'bench', hostPath: repo.root, guestPath }, {
        onProgress: (e) => {
          marks[e.stage] ??= e.elapsedMs;
          if (e.stage === 'copy' && /^over /.test(e.message)) transports.push(e.message);
        },
      });
      return { ms: performance.now() - start, hostMs: marks.copy ?? 0, res, transport: transports.join('; ') || 'over SSH' };
    };

    // Where the baseline's time goes: the SSH transfer alone (into /dev/null) and the guest's extraction alone.
    {
      const lsTar = [['git', '-C', repo.root, 'ls-files', '-z'], ['tar', '-c', '-f', '-', '-C', repo.root, '--null', '-T', '-']];
      const xfer = await pipeline([...lsTar, ssh('cat >/dev/null')]);
      await pipeline([...lsTar, ssh('cat >/root/x.tar')]);
      const t2 = performance.now();
      await guest('mkdir -p /root/x && tar -x -f /root/x.tar -C /root/x');
      const extract = performance.now() - t2;
      await guest('rm -rf /root/x /root/x.tar');
      console.log(`baseline parts: tar over ssh into /dev/null ${secs(xfer.ms)}; tar -x in the guest from its own disk ${secs(extract)} (through vm exec)`);
    }

    const base = [];
    const bulk = [];
    const overSsh = [];
    const hostSide = [];
    for (let r = 0; r < ROUNDS; r++) {
      const lsTar = [['git', '-C', repo.root, 'ls-files', '-z'], ['tar', '-c', '-f', '-', '-C', repo.root, '--null', '-T', '-']];
      base.push((await pipeline([...lsTar, ssh(`mkdir -p /root/b${r} && tar -x -C /root/b${r}`)])).ms);
      const b = await prepare(`/root/w${r}`);
      bulk.push(b.ms);
      hostSide.push(b.hostMs);
      let s = null;
      if (bulkSock) {
        renameSync(bulkSock, `${bulkSock}.hidden`);
        try {
          s = await prepare(`/root/s${r}`);
        } finally {
          renameSync(`${bulkSock}.hidden`, bulkSock);
        }
        overSsh.push(s.ms);
      }
      console.log(
        `round ${r + 1}: baseline tar|ssh ${secs(base[r])}; prepare ${secs(b.ms)} [${b.transport}] (host planning+bundle ${secs(b.hostMs)}, copy+extract ${secs(b.ms - b.hostMs)}, pack ${(b.res.packBytes / 1e6).toFixed(1)} MB)` +
          (s ? `; prepare over SSH ${secs(s.ms)} (copy+extract ${secs(s.ms - s.hostMs)})` : ''),
      );
      await guest(`rm -rf /root/b${r} /root/s${r}` + (r > 0 ? ` /root/w${r}` : ''));
    }

    // Export: change CHANGED files in the first workspace, then the patch out vs `ssh guest git diff`.
    await guest(`cd /root/w0 && git ls-files 'vendor/*.js' | head -n ${CHANGED} | while IFS= read -r f; do echo "// changed in the guest" >> "$f"; done`);
    const exp = [];
    const diff = [];
    let sizes = {};
    for (let r = 0; r < ROUNDS; r++) {
      let t1 = performance.now();
      let bytes = 0;
      const res = await api('workspace.export', { name: 'bench', guestPath: '/root/w0' }, { onStream: (_s, d) => (bytes += d.length) });
      exp.push(performance.now() - t1);
      if (res.files.length !== CHANGED) throw new Error(`export listed ${res.files.length} files, expected ${CHANGED}`);
      const f = await pipeline([ssh('cd /root/w0 && git diff')]);
      diff.push(f.ms);
      sizes = { ours: res.bytes, theirs: f.outBytes };
      console.log(`export round ${r + 1}: export ${secs(exp[r])}, ssh git diff ${secs(diff[r])}`);
    }

    // --breakdown: where export's time goes, each step of the export script (scripts.ts) timed alone in the
    // guest, twice; every figure includes one `date` start-up, which the first line measures.
    if (process.argv.includes('--breakdown')) {
      const env = 'GIT_INDEX_FILE=/tmp/bx/index GIT_OPTIONAL_LOCKS=0';
      const steps = [
        ['date overhead (nothing)', ':'],
        ['process start-up (/bin/true)', '/bin/true'],
        ['git start-up (git version)', 'git version >/dev/null'],
        ['rev-parse the base', `git rev-parse -q --verify 'refs/banger/prepared^{commit}' >/dev/null`],
        ['mktemp -d', 'd=$(mktemp -d); rmdir "$d"'],
        ['cp the index', 'cp .git/index /tmp/bx/index'],
        ['ls-files -o (untracked)', `${env} git ls-files -z -o --exclude-standard >/dev/null`],
        ['diff --raw against the base', `${env} git diff -z --raw --no-renames refs/banger/prepared -- >/dev/null`],
        ['diff --raw -p against the base (the export)', `${env} git diff -z --raw -p --binary --full-index --no-renames refs/banger/prepared -- >/dev/null`],
        ['git diff (the baseline, on the copy)', `${env} git diff >/dev/null`],
        ['update-index --refresh (the copy)', `${env} git update-index -q --refresh`],
        ['diff --raw -p after that refresh', `${env} git diff -z --raw -p --binary --full-index --no-renames refs/banger/prepared -- >/dev/null`],
      ];
      const script = 'cd /root/w0 && mkdir -p /tmp/bx && ' + steps.map(([name, cmd]) => `a=$(date +%s%N); ${cmd}; b=$(date +%s%N); echo "  ${name}: $(( (b-a)/1000000 )) ms"`).join('; ');
      for (let k = 0; k < 2; k++) {
        let text = '';
        await api('vm.exec', { name: 'bench', argv: ['sh', '-c', script], cwd: '/root' }, { onStream: (_s, d) => (text += Buffer.from(d).toString()) });
        console.log(`export breakdown ${k + 1} (in the guest):\n${text.trimEnd()}`);
      }
    }

    const m = median;
    console.log('\nmedians (ratios against baselines measured in this run):');
    console.log(`  prepare (bulk channel)  ${secs(m(bulk))}  vs  git ls-files | tar | ssh tar -x  ${secs(m(base))}:  ratio ${(m(bulk) / m(base)).toFixed(2)}   (goal <= 0.60)`);
    if (overSsh.length) console.log(`  prepare over SSH        ${secs(m(overSsh))}:  ratio ${(m(overSsh) / m(base)).toFixed(2)}   (bulk/ssh ${(m(bulk) / m(overSsh)).toFixed(2)})`);
    console.log(`  prepare host side (plan, pack, skeleton) ${secs(m(hostSide))}, copy+extract ${secs(m(bulk) - m(hostSide))}`);
    console.log(`  export                  ${secs(m(exp))}  vs  ssh guest git diff  ${secs(m(diff))}:  ratio ${(m(exp) / m(diff)).toFixed(2)}   (goal <= 0.80)`);
    console.log(`  patch sizes: export ${sizes.ours} bytes, git diff ${sizes.theirs} bytes`);
  } finally {
    await inst.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
