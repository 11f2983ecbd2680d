// Density bench (issue 13): how much host memory forked and warm-restored VMs take, and how fast a
// fan-out fork is, against baselines measured in the same run.
//
//   baseline  one cold-booted VM (`vm create --cold`): its create time and its qemu PSS/RSS after a settle
//   warm      one warm-restored VM (`vm create`, the warm snapshot built first): create time, PSS/RSS
//   fork      `vm fork SRC --count N` of that warm VM (default 8): wall time; each child's qemu PSS
//             (/proc/PID/smaps_rollup) right after and after BENCH_SETTLE_MS idle; host MemAvailable
//             before and after
//   many      more forks of the same snapshot until BENCH_MANY VMs (default 20) forked VMs are alive
//             at once, every one answering `vm exec -- true`; host MemAvailable drop and total PSS
//
// Memory is measured as PSS: pages shared between processes (the snapshot's RAM file in the page
// cache) count once, split between their users. Ratios are against the cold-booted VM of this run.
// Runs the built dist/ and bin/banger against an isolated install seeded from the golden kernel and
// image (test/install.fixture.ts); `npm run bench` builds first.
//   node bench/density.bench.mjs
// Knobs: BENCH_FORK_COUNT (8), BENCH_MANY (20), BENCH_SETTLE_MS (10000).
import { readFileSync } from 'node:fs';
import { freshInstall } from '../.tmp/test-dist/test/install.fixture.js';
import { median, sleep, loadavg, benchLog, mib, sec, timedCli } from './lib.mjs';

const FORK_COUNT = Number(process.env.BENCH_FORK_COUNT ?? 8);
const MANY = Number(process.env.BENCH_MANY ?? 20);
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 10_000);

const MiB = 2 ** 20;
const log = benchLog('density.bench');
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const meminfo = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/meminfo', 'utf8'))[1]) * 1024;
/**
 * { pss, rss, tcg } of a process in bytes, from smaps; null when it is gone. `tcg` is the PSS of TCG's
 * translation cache (QEMU's one anonymous rwx mapping): software emulation's own cost, absent under KVM.
 */
const memOf = (pid) => {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return null;
  }
  let pss = 0;
  let rss = 0;
  let tcg = 0;
  let exec = false;
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ (\d+)\s*(\S*)/.exec(line);
    if (head) {
      exec = head[1] === 'rwxp' && head[2] === '0' && head[3] === '';
      continue;
    }
    const kb = /^(Pss|Rss):\s+(\d+) kB/.exec(line);
    if (!kb) continue;
    const bytes = Number(kb[2]) * 1024;
    if (kb[1] === 'Rss') rss += bytes;
    else {
      pss += bytes;
      if (exec) tcg += bytes;
    }
  }
  return { pss, rss, tcg };
};

const memTotal = meminfo('MemTotal');
if (memTotal < 20 * 1024 * MiB) log(`warning: ${mib(memTotal)} of host RAM; ${MANY} guests of the default size may not fit`);

const inst = await freshInstall();
const banger = timedCli(inst);
const pidOf = async (name) => JSON.parse((await banger(['vm', 'show', name])).stdout).pid;

try {
  log(`host RAM ${mib(memTotal)}, load average at start: ${loadavg()}`);
  log('baseline: a cold-booted VM');
  const cold = await banger(['vm', 'create', '--cold', '--name', 'cold']);
  log('warm: building the warm snapshot (first vm create)');
  const first = await banger(['vm', 'create', '--name', 'first']);
  await banger(['vm', 'delete', 'first']);
  log('warm: a warm-restored VM');
  const warm = await banger(['vm', 'create', '--name', 'src']);
  await sleep(SETTLE_MS);
  const coldMem = memOf(await pidOf('cold'));
  const warmMem = memOf(await pidOf('src'));
  // The cold VM is the baseline figure only; it does not stay for the density part.
  await banger(['vm', 'delete', 'cold']);
  await sleep(1000);

  log(`fork: vm fork src --count ${FORK_COUNT}`);
  const availBefore = meminfo('MemAvailable');
  const fork = await banger(['vm', 'fork', 'src', '--name', 'f', '--count', String(FORK_COUNT), '--json']);
  const forked = JSON.parse(fork.stdout);
  // The progress lines' clock: the first child's restore starts once the source's snapshot is taken.
  const firstRestore = /^\[(\d+(?:\.\d+)?)s\] boot: /m.exec(fork.stderr);
  const snapshotMs = firstRestore ? Number(firstRestore[1]) * 1000 : null;
  const kids = forked.vms.map((v) => ({ name: v.name, pid: v.pid }));
  const right = kids.map((k) => memOf(k.pid));
  await sleep(SETTLE_MS);
  const settled = kids.map((k) => memOf(k.pid));
  const availAfterFork = meminfo('MemAvailable');
  const snap = JSON.parse((await banger(['snapshot', 'show', forked.snapshot, '--json'])).stdout);

  log(`many: forks of ${forked.snapshot} until ${MANY} forked VMs run`);
  const more = MANY - FORK_COUNT;
  let many = null;
  if (more > 0) {
    const m = await banger(['vm', 'fork', forked.snapshot, '--name', 'm', '--count', String(more), '--json']);
    const all = [...kids, ...JSON.parse(m.stdout).vms.map((v) => ({ name: v.name, pid: v.pid }))];
    let answered = 0;
    for (const k of all) {
      const r = await banger(['vm', 'exec', k.name, '--', 'hostname']);
      if (r.stdout.trim() !== k.name) throw new Error(`${k.name} says it is ${r.stdout.trim()}`);
      answered++;
    }
    await sleep(SETTLE_MS);
    const mems = all.map((k) => memOf(k.pid));
    many = { ms: m.ms, count: all.length, answered, pss: sum(mems.map((x) => x?.pss ?? 0)), avail: meminfo('MemAvailable') };
  }

  const pssRight = right.map((x) => x?.pss ?? null);
  const pssSettled = settled.map((x) => x?.pss ?? null);
  const lines = [
    `density bench (QEMU ${snap.accel}, ${snap.vcpu} vCPU, ${snap.memoryMib} MiB guests; host RAM ${mib(memTotal)}; load average ${loadavg()})`,
    `  baseline: cold-booted VM: create ${sec(cold.ms)}, qemu PSS ${mib(coldMem?.pss)} (RSS ${mib(coldMem?.rss)}) after ${SETTLE_MS / 1000} s`,
    `  warm-restored VM: create ${sec(warm.ms)} (${(warm.ms / cold.ms).toFixed(2)}x the cold create; first create, building the warm snapshot: ${sec(first.ms)})`,
    `  warm-restored VM: qemu PSS ${mib(warmMem?.pss)} (RSS ${mib(warmMem?.rss)}): ${(warmMem.pss / coldMem.pss).toFixed(2)}x the cold VM's PSS, RSS ${(warmMem.rss / coldMem.rss).toFixed(2)}x  (goal <= 1)`,
    `  vm fork src --count ${FORK_COUNT}: ${sec(fork.ms)} (${sec(fork.ms / FORK_COUNT)} per VM; ${(fork.ms / cold.ms).toFixed(2)}x one cold create)  (goal <= 3 s)`,
    snapshotMs !== null
      ? `    of which snapshotting src: ${sec(snapshotMs)}; restoring the ${FORK_COUNT} children: ${sec(fork.ms - snapshotMs)} (${sec((fork.ms - snapshotMs) / FORK_COUNT)} per VM)`
      : `    (no progress line gave the snapshot's share)`,
    `  snapshot ${forked.snapshot}: state + RAM file ${mib(snap.stateBytes)} on disk, frozen layer ${mib(snap.layerBytes)}`,
    `  qemu PSS per fork right after:  ${pssRight.map((b) => mib(b)).join(', ')}  (median ${mib(median(pssRight))}, ${(median(pssRight) / coldMem.pss).toFixed(2)}x cold; goal <= 64 MiB)`,
    `  the same without TCG's translation cache (software emulation only; absent under KVM): ${right.map((x) => (x ? mib(x.pss - x.tcg) : '?')).join(', ')}  (median ${mib(median(right.map((x) => (x ? x.pss - x.tcg : 0))))})`,
    `  qemu PSS per fork after ${SETTLE_MS / 1000} s:   ${pssSettled.map((b) => mib(b)).join(', ')}  (median ${mib(median(pssSettled))}, ${(median(pssSettled) / coldMem.pss).toFixed(2)}x cold; goal <= 96 MiB)`,
    `  the same without TCG's translation cache: ${settled.map((x) => (x ? mib(x.pss - x.tcg) : '?')).join(', ')}  (median ${mib(median(settled.map((x) => (x ? x.pss - x.tcg : 0))))})`,
    `  host MemAvailable: ${mib(availBefore)} before the fork, ${mib(availAfterFork)} after (${mib(availBefore - availAfterFork)} for ${FORK_COUNT} VMs, ${mib((availBefore - availAfterFork) / FORK_COUNT)} each; ${((availBefore - availAfterFork) / FORK_COUNT / coldMem.pss).toFixed(2)}x the cold VM's PSS)`,
    many
      ? `  ${many.count} forked VMs alive, ${many.answered} answered vm exec: total qemu PSS ${mib(many.pss)} (${mib(many.pss / many.count)} each), host MemAvailable down ${mib(availBefore - many.avail)} since before the first fork (${(
          (availBefore - many.avail) /
          many.count /
          coldMem.pss
        ).toFixed(2)}x the cold VM's PSS per VM); the ${more} extra forks took ${sec(many.ms)}`
      : `  (BENCH_MANY <= BENCH_FORK_COUNT: no extra forks)`,
  ];
  console.log(lines.join('\n'));
} finally {
  await inst.destroy();
}
