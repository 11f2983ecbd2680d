#!/usr/bin/env node
/**
 * Root-helper bench: (1) the round trip of one privileged call through bangerd-root (median of N
 * `helper.status` and `tap.list` calls from the owner), against the same listing done in-process
 * (`ip -j link show` through createBridgeOps) measured in the same process; (2) a bridge-mode
 * `vm create --nat` as a non-root owner through the helper vs. as root in-process (ratio; goal <= 1.1),
 * plus the network stage alone (from the progress timestamps).
 *
 *   node scripts/build.mjs && node bench/helper.bench.mjs [--calls 200] [--creates 2]
 *
 * Everything runs in network namespaces the bench creates and deletes, with a temporary owner. Needs root.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const r2 = (x) => Math.round(x * 100) / 100;

if (args.includes('--inner')) await inner(JSON.parse(opt('inner')));
else await outer();

/** As the owner, inside the namespace: time calls, print JSON. */
async function inner(cfg) {
  const { callHelper } = await import(join(REPO, 'dist', 'rootd', 'client.js'));
  const { createBridgeOps } = await import(join(REPO, 'dist', 'network', 'bridge.js'));
  const local = createBridgeOps({ installId: cfg.installId });
  const time = async (fn) => {
    const xs = [];
    for (let i = 0; i < 10; i++) await fn(); // warm-up
    for (let i = 0; i < cfg.calls; i++) {
      const t = process.hrtime.bigint();
      await fn();
      xs.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    return median(xs);
  };
  const status = await time(() => callHelper(cfg.socket, 'helper.status', {}));
  const tapListHelper = await time(() => callHelper(cfg.socket, 'tap.list', {}));
  const tapListLocal = await time(() => local.listTaps());
  process.stdout.write(JSON.stringify({ status, tapListHelper, tapListLocal }) + '\n');
}

async function outer() {
  if (process.getuid() !== 0) throw new Error('the helper bench needs root (namespaces, a temporary user)');
  const { run } = await import(join(REPO, 'dist', 'host', 'exec.js'));
  const { helperRig, ownerInstall } = await import(join(REPO, '.tmp', 'test-dist', 'test', 'rootd.fixture.js'));
  const { goldenState } = await import(join(REPO, '.tmp', 'test-dist', 'test', 'install.fixture.js'));
  const { netnsInstall } = await import(join(REPO, '.tmp', 'test-dist', 'test', 'netns.fixture.js'));
  const calls = Number(opt('calls', '200'));
  const creates = Number(opt('creates', '2'));
  const golden = await goldenState();
  const rig = await helperRig({ cidr: '172.30.0.0/24' });
  let owner;
  let rootInst;
  try {
    await rig.start();
    // 1. Round trips, from the owner, in the namespace.
    const cfg = { socket: rig.socket, installId: rig.installId, calls };
    const r = await run(['runuser', '-u', rig.owner.name, '--', process.execPath, fileURLToPath(import.meta.url), '--inner', JSON.stringify(cfg)], { netns: rig.ns, timeoutMs: 600_000 });
    const rt = JSON.parse(r.stdout);
    console.log(`helper round trip (median of ${calls}, owner → bangerd-root, unix socket):`);
    console.log(`  helper.status             ${r2(rt.status)} ms`);
    console.log(`  tap.list via helper       ${r2(rt.tapListHelper)} ms`);
    console.log(`  tap.list in-process       ${r2(rt.tapListLocal)} ms   (baseline: the same \`ip -j link show\` run by the caller)`);
    console.log(`  ratio helper/in-process   ${r2(rt.tapListHelper / rt.tapListLocal)}   (RPC overhead alone ≈ ${r2(rt.tapListHelper - rt.tapListLocal)} ms)`);

    // 2. vm create, bridge + NAT: owner through the helper vs root in-process (its own namespace).
    owner = await ownerInstall(rig, golden);
    rootInst = await netnsInstall({});
    // Both daemons up before anything is timed (netnsInstall starts its own).
    if ((await owner.cli(['daemon', 'status'])).code !== 0) throw new Error('the owner daemon did not start');
    const measure = async (cli, label) => {
      const t = Date.now();
      const c = await cli(['vm', 'create', '--name', 'bench', '--network', 'bridge', '--nat']);
      const ms = Date.now() - t;
      if (c.code !== 0) throw new Error(`${label} vm create failed: ${c.stderr}`);
      const at = (stage) => Number(new RegExp(`\\[(\\d+\\.\\d+)s\\] ${stage}:`).exec(c.stderr)?.[1] ?? NaN);
      const net = (at('boot') - at('network')) * 1000;
      const d = await cli(['vm', 'delete', 'bench']);
      if (d.code !== 0) throw new Error(`${label} vm delete failed: ${d.stderr}`);
      return { ms, net };
    };
    const viaHelper = [];
    const asRoot = [];
    for (let i = 0; i < creates; i++) {
      // Alternating which goes first, so neither always meets a colder page cache.
      if (i % 2 === 0) {
        viaHelper.push(await measure((a) => owner.cli(a), 'helper'));
        asRoot.push(await measure((a) => rootInst.cli(a), 'root'));
      } else {
        asRoot.push(await measure((a) => rootInst.cli(a), 'root'));
        viaHelper.push(await measure((a) => owner.cli(a), 'helper'));
      }
    }
    const h = median(viaHelper.map((x) => x.ms));
    const ro = median(asRoot.map((x) => x.ms));
    const hn = median(viaHelper.map((x) => x.net));
    const rn = median(asRoot.map((x) => x.net));
    console.log(`bridge-mode vm create --nat (median of ${creates}, TCG boot to SSH):`);
    console.log(`  as the owner via helper   ${r2(h / 1000)} s   (network stage ${Math.round(hn)} ms)`);
    console.log(`  as root in-process        ${r2(ro / 1000)} s   (network stage ${Math.round(rn)} ms)  (baseline)`);
    console.log(`  ratio helper/root         ${r2(h / ro)}   (goal <= 1.1); network stage ratio ${r2(hn / rn)}`);
  } finally {
    await owner?.destroy();
    await rootInst?.destroy();
    await rig.destroy();
  }
}
