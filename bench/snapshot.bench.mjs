// Snapshot bench (issue 7): warm start against a cold boot in the same run, and fork fan-out.
//
//   warm   `banger vm run --rm -- true` restoring the default image's warm snapshot
//   cold   `banger vm run --rm --cold -- true` booting the same image (rounds alternate with warm)
//   fork   `banger vm fork SRC --name b --count N` of a running VM (snapshot first, then N restores),
//          total wall time, and each child's qemu RSS from /proc right after and after a settle
//
// The first `vm run` of the install builds the warm snapshot (one template boot); it is reported on
// its own and kept out of the warm figures. Runs the built dist/ and bin/banger against an isolated
// install seeded from the golden kernel+image (test/install.fixture.ts).
//   node bench/snapshot.bench.mjs
// Knobs: BENCH_ROUNDS (default 3), BENCH_FORK_COUNT (default 4), BENCH_SETTLE_MS (default 10000).
import { readFileSync } from 'node:fs';
import { freshInstall } from '../.tmp/test-dist/test/install.fixture.js';
import { median, sleep, loadavg, benchLog, mib, sec, timedCli } from './lib.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FORK_COUNT = Number(process.env.BENCH_FORK_COUNT ?? 4);
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 10_000);

const log = benchLog('snapshot.bench');
const rssOf = (pid) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
  } catch {
    return null;
  }
};

const inst = await freshInstall();
const banger = timedCli(inst);

try {
  log(`load average at start: ${loadavg()}`);
  log('first vm run (builds the warm snapshot)');
  const first = await banger(['vm', 'run', '--rm', '--', 'true']);
  if (!/building warm:/.test(first.stderr)) throw new Error(`the first run did not build the warm snapshot:\n${first.stderr}`);

  const warm = [];
  const cold = [];
  for (let i = 0; i < ROUNDS; i++) {
    const w = await banger(['vm', 'run', '--rm', '--', 'true']);
    if (!/restoring warm:/.test(w.stderr)) throw new Error(`a default run did not restore the warm snapshot:\n${w.stderr}`);
    warm.push(w.ms);
    const c = await banger(['vm', 'run', '--rm', '--cold', '--', 'true']);
    if (/restoring/.test(c.stderr)) throw new Error('--cold restored a snapshot');
    cold.push(c.ms);
    log(`round ${i + 1}/${ROUNDS}: warm ${sec(w.ms)}, cold ${sec(c.ms)}`);
  }

  log(`fork: source VM, then vm fork --count ${FORK_COUNT}`);
  await banger(['vm', 'create', '--name', 'src']);
  const vmsJson = async () => JSON.parse((await banger(['vm', 'list', '--json'])).stdout);
  const srcPid = (await vmsJson()).find((v) => v.name === 'src').pid;
  const fork = await banger(['vm', 'fork', 'src', '--name', 'b', '--count', String(FORK_COUNT), '--json']);
  const forked = JSON.parse(fork.stdout);
  const kids = forked.vms.map((v) => ({ name: v.name, pid: v.pid }));
  const rssNow = kids.map((k) => rssOf(k.pid));
  // every child answers
  for (const k of kids) {
    const r = await banger(['vm', 'exec', k.name, '--', 'hostname']);
    if (r.stdout.trim() !== k.name) throw new Error(`${k.name} says it is ${r.stdout.trim()}`);
  }
  await sleep(SETTLE_MS);
  const rssSettled = kids.map((k) => rssOf(k.pid));
  const snap = JSON.parse((await banger(['snapshot', 'show', forked.snapshot, '--json'])).stdout);
  const srcRss = rssOf(srcPid);

  const w = median(warm);
  const c = median(cold);
  const lines = [
    `snapshot bench (QEMU ${snap.accel}, ${snap.vcpu} vCPU, ${snap.memoryMib} MiB guests; load average ${loadavg()})`,
    `  first vm run --rm -- true (builds the warm snapshot): ${sec(first.ms)}`,
    `  vm run --rm -- true, warm (median of ${ROUNDS}):        ${sec(w)}  [${warm.map((ms) => sec(ms)).join(', ')}]`,
    `  vm run --rm --cold -- true (median of ${ROUNDS}):       ${sec(c)}  [${cold.map((ms) => sec(ms)).join(', ')}]`,
    `  ratio warm / cold:                                  ${(w / c).toFixed(2)}  (goal <= 0.2)`,
    `  vm fork src --count ${FORK_COUNT} (snapshot + ${FORK_COUNT} restores):   ${sec(fork.ms)}  (${sec(fork.ms / FORK_COUNT)} per VM)`,
    `  snapshot: state ${mib(snap.stateBytes)}, frozen layer ${snap.layerBytes === null ? '?' : mib(snap.layerBytes)}`,
    `  qemu RSS per child right after fork: ${rssNow.map((b) => (b === null ? '?' : mib(b))).join(', ')}`,
    `  qemu RSS per child after ${SETTLE_MS / 1000} s:      ${rssSettled.map((b) => (b === null ? '?' : mib(b))).join(', ')}`,
    `  qemu RSS of the source VM (restored from the warm snapshot, then used): ${srcRss === null ? '?' : mib(srcRss)}`,
  ];
  console.log(lines.join('\n'));
} finally {
  await inst.destroy();
}
