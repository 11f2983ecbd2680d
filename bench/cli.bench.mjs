// CLI latency bench (issue 13): what one `banger` command costs against the floor it sits on, measured in
// the same run, rounds interleaved so load from other processes hits every row alike.
//
//   exec      `banger vm exec bench -- true`  vs  `ssh -S CTL ... true` through an OpenSSH ControlMaster to
//             the same guest (both reuse an open SSH connection: the fair comparison with banger's pool)
//   list      `banger vm list` (one VM)        vs  `node -e 0` (the Node start-up floor)
//   version   `banger --version`               vs  `node -e 0` (start-up and module loading, no daemon)
//   api       the same vm.list and vm.exec calls made from this process over the daemon's socket (no
//             Node start-up): how much of each command is the daemon's own work; and `true` through an
//             ssh2 exec on an open connection of this process (the floor under the daemon's pooled exec)
//   unbundled the same commands through the compiled ES modules (dist/cli/main.js, as bin/banger ran
//             before the bundle): what the bundle and its code cache save, in this run
//   no CA env when NODE_EXTRA_CA_CERTS is set: `node -e 0`, `banger vm list` and `banger vm exec` again
//             without it. Node 20 builds its whole root certificate store at start-up when that variable
//             is set (~40 ms with the system bundle on the 2-core test host, before any of banger's code
//             runs), so these rows show the floor of a host without it; ssh pays nothing of the kind
//   command   `banger vm list` and `banger vm exec` as users run them: bin/banger executed (its sh part
//             starts node without NODE_EXTRA_CA_CERTS and the CLI puts it back), not `node bin/banger`
//   exec -w   `banger vm exec -w / bench -- true`: no workspace drift check (before vm.exec's reportDrift,
//             the CLI made a vm.show call first without -w: the difference to the plain exec row)
//
// Runs the built dist/ and bin/banger against an isolated install seeded from the golden kernel+image
// (test/install.fixture.ts; `npm run build:fixtures`). The VM boots once (cold), so run it under the VM lock:
//   node scripts/build.mjs && npm run build:fixtures && flock /tmp/banger-vm.lock node bench/cli.bench.mjs
// Knobs: BENCH_SAMPLES (default 20), BENCH_NO_VM=1 (no guest: version, list of an empty install, node).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { call } from '../dist/api/client.js';
import { run, spawnProcess } from '../dist/host/exec.js';
import { connect } from '../dist/guest/ssh.js';
import { KnownHostsStore } from '../dist/guest/knownhostsstore.js';
import { resolvePaths } from '../dist/store/paths.js';
import { freshInstall } from '../.tmp/test-dist/test/install.fixture.js';
import { benchLog, daemonAsUsersRunIt, loadavg, median, sleep, stats } from './lib.mjs';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 20);
const WITH_VM = !process.env.BENCH_NO_VM;

const log = benchLog('cli.bench');

async function timed(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const inst = await freshInstall();
const cleanups = [];
try {
  await daemonAsUsersRunIt(inst);
  const paths = resolvePaths(inst.env);
  const ok = (what) => (r) => {
    if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr.trim()}`);
  };
  const banger = (args) => inst.cli(args).then(ok(`banger ${args.join(' ')}`));
  const esmDir = mkdtempSync(join(tmpdir(), 'bcli-esm-'));
  cleanups.push(async () => rmSync(esmDir, { recursive: true, force: true }));
  const esmMain = join(esmDir, 'banger.mjs');
  writeFileSync(esmMain, `import { main } from ${JSON.stringify(new URL('../dist/cli/main.js', import.meta.url).href)};\nawait main(process.argv);\n`);
  const unbundled = (args) => run([process.execPath, esmMain, ...args], { env: inst.env }).then(ok(`unbundled banger ${args.join(' ')}`));

  /** label -> an async function whose wall time is one sample */
  const rows = new Map();
  rows.set('node -e 0', () => run([process.execPath, '-e', '0']).then(ok('node -e 0')));
  rows.set('banger --version', () => banger(['--version']));
  rows.set('banger vm list', () => banger(['vm', 'list']));
  rows.set('unbundled banger vm list', () => unbundled(['vm', 'list']));
  rows.set('api vm.list (in process)', () => call(paths.daemonSocket, 'vm.list', {}));
  const CA_ENV = !!process.env.NODE_EXTRA_CA_CERTS;
  const noCaEnv = { ...inst.env };
  delete noCaEnv.NODE_EXTRA_CA_CERTS;
  const bangerBin = new URL('../bin/banger', import.meta.url).pathname;
  const noCa = (args) => run([process.execPath, bangerBin, ...args], { env: noCaEnv }).then(ok(`banger ${args.join(' ')} (no NODE_EXTRA_CA_CERTS)`));
  // As a command: the kernel runs bin/banger's sh part, which execs the `node` on PATH (this one).
  const cmdEnv = { ...inst.env, PATH: `${dirname(process.execPath)}:${inst.env.PATH ?? ''}` };
  const command = (args) => run([bangerBin, ...args], { env: cmdEnv }).then(ok(`bin/banger ${args.join(' ')}`));
  rows.set('banger vm list (command)', () => command(['vm', 'list']));
  if (CA_ENV) {
    rows.set('node -e 0 (no CA env)', () => run([process.execPath, '-e', '0'], { env: noCaEnv }).then(ok('node -e 0')));
    rows.set('banger vm list (no CA env)', () => noCa(['vm', 'list']));
  }

  let vm = null;
  if (WITH_VM) {
    log('creating the VM "bench" (--cold: no warm template to build)');
    await banger(['vm', 'create', '--name', 'bench', '--cold']);
    vm = JSON.parse((await inst.cli(['vm', 'show', 'bench'])).stdout);
    const ssh = ['-i', paths.sshKey, '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'LogLevel=ERROR', '-o', `UserKnownHostsFile=${paths.knownHosts}`];
    const to = ['-o', 'StrictHostKeyChecking=yes', '-o', 'HostKeyAlias=bench.vm', '-p', String(vm.ssh.port), 'root@127.0.0.1'];
    const dir = mkdtempSync(join(tmpdir(), 'bcli-'));
    const ctl = join(dir, 'ctl');
    const master = spawnProcess(['ssh', ...ssh, ...to, '-M', '-S', ctl, '-N'], { stdio: 'ignore' });
    cleanups.push(async () => {
      await run(['ssh', '-S', ctl, '-O', 'exit', 'x'], { check: false });
      master.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    for (let i = 0; (await run(['ssh', '-S', ctl, '-O', 'check', 'x'], { check: false })).code !== 0; i++) {
      if (i > 200) throw new Error('the OpenSSH ControlMaster did not come up');
      await sleep(100);
    }
    rows.set('banger vm exec bench -- true', () => banger(['vm', 'exec', 'bench', '--', 'true']));
    rows.set('unbundled banger vm exec bench -- true', () => unbundled(['vm', 'exec', 'bench', '--', 'true']));
    rows.set('ssh ControlMaster true', () => run(['ssh', '-S', ctl, ...ssh, ...to, 'true']).then(ok('ssh')));
    if (CA_ENV) rows.set('banger vm exec bench -- true (no CA env)', () => noCa(['vm', 'exec', 'bench', '--', 'true']));
    rows.set('banger vm exec bench -- true (command)', () => command(['vm', 'exec', 'bench', '--', 'true']));
    rows.set('banger vm exec -w / bench -- true', () => banger(['vm', 'exec', '-w', '/', 'bench', '--', 'true']));
    const conn = await connect({ host: '127.0.0.1', port: vm.ssh.port, alias: 'bench.vm', privateKey: readFileSync(paths.sshKey, 'utf8'), knownHosts: new KnownHostsStore(paths.knownHosts) });
    cleanups.push(async () => conn.close());
    rows.set('ssh2 exec true (in process, open conn)', async () => {
      const r = await conn.exec('true').exit;
      if (r.code !== 0) throw new Error(`ssh2 exec true: ${JSON.stringify(r)}`);
    });
    rows.set('api vm.exec true (in process)', async () => {
      const r = await call(paths.daemonSocket, 'vm.exec', { name: 'bench', argv: ['true'], stdin: false });
      if (r.exitCode !== 0) throw new Error(`vm.exec true: exit ${r.exitCode}`);
    });
  }

  log(`load average at start: ${loadavg()}; ${SAMPLES} interleaved rounds of ${rows.size} rows`);
  for (const fn of rows.values()) await fn(); // warm-up, not counted (page cache, the daemon's pooled SSH connection)
  const samples = new Map([...rows.keys()].map((k) => [k, []]));
  for (let i = 0; i < SAMPLES; i++) {
    for (const [label, fn] of rows) samples.get(label).push(await timed(fn));
  }
  const st = new Map([...samples].map(([k, xs]) => [k, stats(xs)]));
  const med = (label) => st.get(label).median;

  const ms = (x) => `${x.toFixed(0)} ms`;
  const row = (label) => {
    const s = st.get(label);
    return `  ${label.padEnd(40)} ${ms(s.median).padStart(8)}  (min ${ms(s.min)}, max ${ms(s.max)}, n=${s.n})`;
  };
  const ratio = (a, b, goal) => `  ${`ratio ${a} / ${b}`.padEnd(80)} ${(med(a) / med(b)).toFixed(2).padStart(6)}${goal ? `  (goal <= ${goal})` : ''}`;
  const out = [
    `banger CLI bench: node ${process.version}, ${cpus().length} host cores, load average ${loadavg()}${vm ? `; VM ${vm.vcpu} vCPU / ${vm.memoryMib} MiB, ${vm.accel}` : '; no VM'}`,
    'medians',
    ...[...rows.keys()].map(row),
    'ratios against the baselines of this run',
    ...(vm ? [ratio('banger vm exec bench -- true (command)', 'ssh ControlMaster true', '1.2'), ratio('banger vm exec bench -- true', 'ssh ControlMaster true', '1.2')] : []),
    ...(vm ? [ratio('banger vm exec bench -- true', 'banger vm exec -w / bench -- true')] : []),
    ratio('banger vm list', 'node -e 0'),
    ratio('banger --version', 'node -e 0'),
    ratio('banger vm list', 'banger --version'),
    ratio('banger vm list', 'unbundled banger vm list'),
    ...(vm ? [ratio('banger vm exec bench -- true', 'unbundled banger vm exec bench -- true'), ratio('unbundled banger vm exec bench -- true', 'ssh ControlMaster true')] : []),
    ...(CA_ENV ? [ratio('banger vm list (no CA env)', 'node -e 0 (no CA env)'), ...(vm ? [ratio('banger vm exec bench -- true (no CA env)', 'ssh ControlMaster true', '1.2')] : [])] : []),
    `  banger vm list as a command: ${ms(med('banger vm list (command)'))} (goal <= 100 ms); node bin/banger vm list: ${ms(med('banger vm list'))}, above node -e 0: ${ms(med('banger vm list') - med('node -e 0'))}`,
    ...(CA_ENV
      ? [`  NODE_EXTRA_CA_CERTS is set: node -e 0 takes ${ms(med('node -e 0') - med('node -e 0 (no CA env)'))} longer with it; banger vm list without it: ${ms(med('banger vm list (no CA env)'))}`]
      : []),
  ];
  console.log(out.join('\n'));
  console.log(JSON.stringify({ bench: 'cli', node: process.version, samples: SAMPLES, ms: Object.fromEntries(st) }));
} finally {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await inst.destroy();
}
