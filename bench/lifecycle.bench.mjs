// Lifecycle bench (issue 3): banger against the bare tools it wraps, measured in the same run.
//
//   cold   `banger vm run --rm -- true` wall time  vs  a hand-written qemu command booting the same
//          vmlinux/initrd/rootfs overlay (same kernel command line contract, user net with hostfwd)
//          to the first successful `ssh true` (system OpenSSH client, the install's key)
//   exec   `banger vm exec NAME -- true`  vs  `ssh ... true` to the same guest, fresh connection each,
//          and through an OpenSSH ControlMaster (no handshake: the fair comparison with banger's pool)
//   list   `banger vm list`
//   rss    the qemu process of an idle VM, from /proc (RSS and PSS; density.bench.mjs compares memory properly)
//
// Runs against the built dist/ and bin/banger with an isolated install (own XDG dirs and daemon, seeded
// from the golden kernel+image of test/install.fixture.ts). `npm run bench` builds first.
// Knobs: BENCH_COLD_RUNS (default 3), BENCH_SAMPLES (default 20).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, spawnProcess } from '../dist/host/exec.js';
import { detectAccel } from '../dist/hypervisor/accel.js';
import { resolvePaths } from '../dist/store/paths.js';
import { freshInstall } from '../.tmp/test-dist/test/install.fixture.js';
import { median, stats, sleep, freePort, sec, daemonAsUsersRunIt } from './lib.mjs';

const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 3);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 20);

const now = () => performance.now();

async function timed(fn) {
  const t0 = now();
  const r = await fn();
  return { ms: now() - t0, r };
}

const log = (...a) => console.error('[bench]', ...a);

/** The install's default image and its kernel, from the manifests in the state dir (as the daemon stores them). */
function artifactsOf(stateDir) {
  const manifests = (dir) =>
    readdirSync(join(stateDir, dir)).map((sha) => ({ dir: join(stateDir, dir, sha), m: JSON.parse(readFileSync(join(stateDir, dir, sha, 'manifest.json'), 'utf8')) }));
  const kernels = manifests('kernels');
  const image = manifests('images')[0];
  const kernel = kernels.find((k) => k.m.name === image.m.kernelRef) ?? kernels[0];
  return {
    kernelPath: join(kernel.dir, kernel.m.files.vmlinux.path),
    initrdPath: join(kernel.dir, kernel.m.files.initrd.path),
    rootfsPath: join(image.dir, 'rootfs.ext4'),
    label: `kernel ${kernel.m.name} ${kernel.m.release}, image ${image.m.name}`,
  };
}

const inst = await freshInstall();
const cleanups = [];
try {
  await daemonAsUsersRunIt(inst);
  const paths = resolvePaths(inst.env);
  const banger = async (args, opts = {}) => {
    const r = await inst.cli(args, opts);
    if (r.code !== 0 && !opts.allowFail) throw new Error(`banger ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r;
  };

  const accel = (await detectAccel('auto')).accel;
  const qemuVersion = (await run(['qemu-system-x86_64', '--version'])).stdout.split('\n')[0].replace(/^QEMU emulator version /, '');
  const art = artifactsOf(paths.stateDir);
  const pubBlob = readFileSync(`${paths.sshKey}.pub`, 'utf8').trim().split(/\s+/)[1];

  // ---- an idle VM for exec, list and rss (created with banger's defaults; the hand qemu copies its size)
  log('creating the VM "bench" (banger defaults)');
  const created = await timed(() => banger(['vm', 'create', '--name', 'bench']));
  const vm = JSON.parse((await banger(['vm', 'show', 'bench'])).stdout);
  const sshBase = ['-i', paths.sshKey, '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'LogLevel=ERROR'];
  const sshToBench = [...sshBase, '-o', `UserKnownHostsFile=${paths.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'HostKeyAlias=bench.vm', '-p', String(vm.ssh.port), 'root@127.0.0.1'];

  const sample = async (label, fn) => {
    await fn(); // warm-up, not counted
    const xs = [];
    for (let i = 0; i < SAMPLES; i++) xs.push((await timed(fn)).ms);
    log(`${label}: median ${median(xs).toFixed(0)} ms`);
    return stats(xs);
  };

  log(`exec latency, ${SAMPLES} samples each`);
  const execBanger = await sample('banger vm exec', () => banger(['vm', 'exec', 'bench', '--', 'true']));
  const execSsh = await sample('ssh fresh', () => run(['ssh', ...sshToBench, 'true']));
  const ctl = join(mkdtempSync(join(tmpdir(), 'bbench-')), 'ctl');
  const master = spawnProcess(['ssh', ...sshToBench, '-M', '-S', ctl, '-N'], { stdio: 'ignore' });
  cleanups.push(async () => {
    await run(['ssh', '-S', ctl, '-O', 'exit', 'x'], { check: false });
    master.kill('SIGKILL');
    rmSync(join(ctl, '..'), { recursive: true, force: true });
  });
  for (let i = 0; (await run(['ssh', '-S', ctl, '-O', 'check', 'x'], { check: false })).code !== 0; i++) {
    if (i > 100) throw new Error('the OpenSSH ControlMaster did not come up');
    await sleep(100);
  }
  const execMux = await sample('ssh ControlMaster', () => run(['ssh', '-S', ctl, ...sshToBench, 'true']));
  const list = await sample('banger vm list', () => banger(['vm', 'list']));

  const rssOf = (pid) => {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    // PSS too: a restored VM's RSS counts the saved memory file's pages in full although they are shared.
    const pss = Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))[1]) / 1024;
    return { rssMiB: Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024, peakMiB: Number(/VmHWM:\s+(\d+) kB/.exec(status)[1]) / 1024, pssMiB: pss };
  };
  const rss = rssOf(vm.pid);
  await banger(['vm', 'delete', 'bench']);

  // When banger can start from a warm snapshot of the image, the default run may restore; --cold forces a boot.
  const hasCold = (await banger(['vm', 'run', '--help'])).stdout.includes('--cold');
  // A restored VM's qemu has touched every page of the saved memory; a booted one only what the guest used.
  let rssCold;
  if (hasCold) {
    log('creating "bench-cold" (--cold) for its idle RSS');
    await banger(['vm', 'create', '--name', 'bench-cold', '--cold']);
    const c = JSON.parse((await banger(['vm', 'show', 'bench-cold'])).stdout);
    await sleep(5000);
    rssCold = rssOf(c.pid);
    await banger(['vm', 'delete', 'bench-cold']);
  }

  // ---- vm run --rm vs the hand-written qemu, interleaved so drift hits both alike
  const handBoot = async (i) => {
    const dir = mkdtempSync(join(tmpdir(), 'bbench-qemu-'));
    const port = await freePort();
    await run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', art.rootfsPath, '-F', 'raw', join(dir, 'disk.qcow2')]);
    const append = [
      'console=ttyS0 quiet root=/dev/vda rw',
      ...(accel === 'tcg' ? ['tsc_early_khz=2300000 tsc=reliable'] : []),
      `banger.hostname=hand${i} banger.key=${pubBlob} banger.ip=10.0.2.15/24 banger.gw=10.0.2.2 banger.dns=10.0.2.3`,
    ].join(' ');
    // prettier-ignore
    const argv = [
      'qemu-system-x86_64', '-M', 'microvm,rtc=on,acpi=on',
      ...(accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max']),
      '-m', String(vm.memoryMib), '-smp', String(vm.vcpu), '-nodefaults', '-no-user-config', '-display', 'none',
      '-kernel', art.kernelPath, '-initrd', art.initrdPath, '-append', append,
      '-serial', `file:${join(dir, 'serial.log')}`,
      '-drive', `id=d0,file=${join(dir, 'disk.qcow2')},format=qcow2,if=none`, '-device', 'virtio-blk-device,drive=d0',
      '-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:22,restrict=on`, '-device', 'virtio-net-device,netdev=n0',
    ];
    const sshArgs = [...sshBase, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=5', '-p', String(port), 'root@127.0.0.1', 'true'];
    const t0 = now();
    const q = spawnProcess(argv, { stdio: 'ignore' });
    try {
      for (;;) {
        const r = await run(['ssh', ...sshArgs], { check: false, timeoutMs: 15_000 });
        if (r.code === 0) return now() - t0;
        if (now() - t0 > 300_000) throw new Error(`hand-written qemu: no ssh after 300 s; see ${join(dir, 'serial.log')}`);
        await sleep(200);
      }
    } finally {
      q.kill('SIGKILL');
      await q.exit;
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const coldBanger = [];
  const coldForced = [];
  const coldHand = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    log(`round ${i + 1}/${COLD_RUNS}: hand-written qemu`);
    coldHand.push(await handBoot(i));
    log(`round ${i + 1}/${COLD_RUNS}: banger vm run --rm -- true`);
    coldBanger.push((await timed(() => banger(['vm', 'run', '--rm', '--', 'true']))).ms);
    if (hasCold) {
      log(`round ${i + 1}/${COLD_RUNS}: banger vm run --rm --cold -- true`);
      coldForced.push((await timed(() => banger(['vm', 'run', '--rm', '--cold', '--', 'true']))).ms);
    }
    log(`  qemu ${(coldHand[i] / 1000).toFixed(1)} s, banger ${(coldBanger[i] / 1000).toFixed(1)} s${hasCold ? `, banger --cold ${(coldForced[i] / 1000).toFixed(1)} s` : ''}`);
  }
  const leftover = JSON.parse((await banger(['vm', 'list', '--json'])).stdout);
  if (leftover.length) throw new Error(`vm run --rm left VMs behind: ${leftover.map((v) => v.name).join(', ')}`);

  // ---- report
  const cb = stats(coldBanger);
  const ch = stats(coldHand);
  const s = (ms) => sec(ms);
  const m = (ms) => `${ms.toFixed(0)} ms`;
  const row = (label, st, fmt) => `  ${label.padEnd(46)} ${fmt(st.median).padStart(9)}  (min ${fmt(st.min)}, max ${fmt(st.max)}, n=${st.n})`;
  const ratio = (label, a, b) => `  ${label.padEnd(46)} ${(a / b).toFixed(2).padStart(9)}`;
  const out = [
    `banger lifecycle bench: qemu ${qemuVersion}, accel ${accel}, ${cpus().length} host cores; VM ${vm.vcpu} vCPU / ${vm.memoryMib} MiB (banger defaults); ${art.label}`,
    'vm run vs a bare qemu boot (median)',
    row('banger vm run --rm -- true (whole lifecycle)', cb, s),
    row('hand-written qemu, spawn to first ssh true', ch, s),
    ratio('ratio banger / hand-written qemu', cb.median, ch.median),
    ...(hasCold
      ? [row('banger vm run --rm --cold -- true', stats(coldForced), s), ratio('ratio banger --cold / hand-written qemu', median(coldForced), ch.median)]
      : []),
    `  (banger vm create --name bench, to ready: ${s(created.ms)}; the first create of an image may also build its warm snapshot)`,
    'exec latency (median)',
    row('banger vm exec bench -- true', execBanger, m),
    row('ssh root@guest true, fresh connection', execSsh, m),
    row('ssh root@guest true, ControlMaster', execMux, m),
    ratio('ratio banger / ssh fresh', execBanger.median, execSsh.median),
    ratio('ratio banger / ssh ControlMaster', execBanger.median, execMux.median),
    'list',
    row('banger vm list', list, m),
    'memory',
    `  ${'qemu RSS of the idle VM (default create)'.padEnd(46)} ${`${rss.rssMiB.toFixed(0)} MiB`.padStart(9)}  (peak ${rss.peakMiB.toFixed(0)} MiB, PSS ${rss.pssMiB.toFixed(0)} MiB, after the exec rounds)`,
    ...(rssCold ? [`  ${'qemu RSS of an idle VM (--cold boot)'.padEnd(46)} ${`${rssCold.rssMiB.toFixed(0)} MiB`.padStart(9)}  (peak ${rssCold.peakMiB.toFixed(0)} MiB, PSS ${rssCold.pssMiB.toFixed(0)} MiB, 5 s after boot)`] : []),
  ];
  console.log(out.join('\n'));
  console.log(
    JSON.stringify({
      bench: 'lifecycle',
      accel,
      qemu: qemuVersion,
      vm: { vcpu: vm.vcpu, memoryMib: vm.memoryMib },
      coldBangerMs: cb,
      coldHandQemuMs: ch,
      coldRatio: cb.median / ch.median,
      ...(hasCold ? { coldForcedBangerMs: stats(coldForced), coldForcedRatio: median(coldForced) / ch.median } : {}),
      execBangerMs: execBanger,
      execSshFreshMs: execSsh,
      execSshMuxMs: execMux,
      listMs: list,
      idleQemuRssMiB: rss.rssMiB,
      idleQemuPssMiB: rss.pssMiB,
      ...(rssCold ? { idleColdQemuRssMiB: rssCold.rssMiB, idleColdQemuPssMiB: rssCold.pssMiB } : {}),
    }),
  );
} finally {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await inst.destroy();
}
