#!/usr/bin/env node
/**
 * User-mode network bench: passt (the default, host loopback blocked) vs QEMU's slirp (what
 * `--host-access` uses): exec round trip on an open SSH connection, a fresh SSH connect + `true`, and
 * MB into the guest over the SSH session (`cat > /dev/null`). One guest per backend, booted with the
 * QEMU driver from the golden kernel and image. Everything runs inside a network namespace the bench
 * creates and deletes (the guests have egress, but nowhere to go), so no packet leaves it.
 *
 *   node scripts/build.mjs && node bench/usernet.bench.mjs [--execs 30] [--mb 50] [--connects 5]
 *
 * Prints one line per backend and the passt/slirp ratios. Needs root (ip netns).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const r1 = (x) => Math.round(x * 10) / 10;

if (args.includes('--inner')) await inner();
else outer();

function outer() {
  const ns = `bgbench-un-${process.pid}`;
  spawnSync('ip', ['netns', 'add', ns], { stdio: 'inherit' });
  try {
    spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'], { stdio: 'inherit' });
    // passt wants an interface with a default route; an unopened tap carries nothing anywhere.
    spawnSync('ip', ['-n', ns, 'tuntap', 'add', 'dev', 'eg0', 'mode', 'tap'], { stdio: 'inherit' });
    spawnSync('ip', ['-n', ns, 'addr', 'add', '10.99.0.1/24', 'dev', 'eg0'], { stdio: 'inherit' });
    spawnSync('ip', ['-n', ns, 'link', 'set', 'eg0', 'up'], { stdio: 'inherit' });
    spawnSync('ip', ['-n', ns, 'route', 'add', 'default', 'dev', 'eg0'], { stdio: 'inherit' });
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, fileURLToPath(import.meta.url), '--inner', ...args], { stdio: 'inherit', cwd: REPO });
    process.exitCode = r.status ?? 1;
  } finally {
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'inherit' });
  }
}

async function inner() {
  const { createQemuDriver } = await import(join(REPO, 'dist', 'hypervisor', 'qemu', 'driver.js'));
  const { createOverlay } = await import(join(REPO, 'dist', 'hypervisor', 'qemu', 'disk.js'));
  const { artifactsFromState } = await import(join(REPO, '.tmp', 'test-dist', 'test', 'conformance.fixture.js'));
  const { goldenState } = await import(join(REPO, '.tmp', 'test-dist', 'test', 'install.fixture.js'));
  const { freePort } = await import(join(REPO, 'dist', 'host', 'freeport.js'));
  const { silentLogger } = await import(join(REPO, 'dist', 'host', 'logger.js'));
  const { Client } = (await import('ssh2')).default;

  const golden = artifactsFromState(join(await goldenState(), 'state', 'banger'));
  const dir = mkdtempSync(join(tmpdir(), 'bbench-un-'));
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'key')]);
  const key = readFileSync(join(dir, 'key'));
  const pub = readFileSync(join(dir, 'key.pub'), 'utf8').split(' ')[1];
  const driver = createQemuDriver({ log: silentLogger });

  const connect = (port) =>
    new Promise((resolve, reject) => {
      const c = new Client();
      c.on('ready', () => resolve(c)).on('error', (err) => (c.failed = err, reject(err)));
      c.on('close', () => (c.closed = true));
      c.connect({ host: '127.0.0.1', port, username: 'root', privateKey: key, readyTimeout: 10_000, hostVerifier: () => true });
    });
  const exec = (c, cmd, input) =>
    new Promise((resolve, reject) => {
      if (c.closed) return reject(new Error(`the SSH connection closed${c.failed ? `: ${c.failed.message}` : ''}`));
      c.exec(cmd, (err, ch) => {
        if (err) return reject(err);
        ch.on('data', () => {}).stderr.on('data', () => {});
        ch.on('close', (code) => (code === 0 ? resolve(code) : reject(new Error(`${cmd}: exit ${code}`))));
        if (input) {
          let sent = 0;
          const chunk = Buffer.alloc(256 * 1024, 7);
          const pump = () => {
            while (sent < input) {
              sent += chunk.length;
              if (!ch.write(chunk)) return void ch.once('drain', pump);
            }
            ch.end();
          };
          pump();
        } else ch.end();
      });
    });

  const results = {};
  for (const backend of ['passt', 'slirp']) {
    const name = `bench-${backend}`;
    const disk = join(dir, `${name}.qcow2`);
    await createOverlay(golden.rootfsPath, 'raw', disk);
    const port = await freePort();
    const spec = {
      id: name,
      name,
      vcpu: 1,
      memoryMib: 512,
      kernelPath: golden.kernelPath,
      initrdPath: golden.initrdPath,
      cmdline: `console=ttyS0 quiet tsc_early_khz=2300000 tsc=reliable root=/dev/vda banger.hostname=${name} banger.key=${pub} banger.ip=10.0.2.15/24 banger.gw=10.0.2.2 banger.dns=10.0.2.3`,
      diskPath: disk,
      diskFormat: 'qcow2',
      serialLogPath: join(dir, `${name}.serial`),
      logPath: join(dir, `${name}.log`),
      runtimeDir: dir,
      accel: 'tcg',
      // slirp with egress is what --host-access gets; passt is the default.
      network: { mode: 'user', sshHostPort: port, egress: true, forwards: [], hostAccess: backend === 'slirp' },
    };
    const h = await driver.start(spec, silentLogger);
    if ((h.passt !== undefined) !== (backend === 'passt')) throw new Error(`expected ${backend}, got ${h.passt ? 'passt' : 'slirp'}`);
    try {
      const t0 = Date.now();
      let c;
      for (;;) {
        try {
          c = await connect(port);
          if ((await exec(c, 'true')) === 0) break;
        } catch {
          c?.end();
        }
        if (Date.now() - t0 > 400_000) throw new Error(`${backend}: no SSH`);
        await new Promise((r) => setTimeout(r, 500));
      }
      await exec(c, 'true'); // warm
      const execMs = [];
      for (let i = 0; i < opt('execs', 30); i++) {
        const t = performance.now();
        await exec(c, 'true');
        execMs.push(performance.now() - t);
      }
      const bytes = opt('mb', 50) * 1024 * 1024;
      const tx = [];
      for (let i = 0; i < 2; i++) {
        const t = performance.now();
        await exec(c, 'cat > /dev/null', bytes);
        tx.push(performance.now() - t);
      }
      c.end();
      const connectMs = [];
      for (let i = 0; i < opt('connects', 5); i++) {
        const t = performance.now();
        const c2 = await connect(port);
        await exec(c2, 'true');
        connectMs.push(performance.now() - t);
        c2.end();
      }
      results[backend] = { execMs: median(execMs), mbPerS: bytes / 1024 / 1024 / (median(tx) / 1000), connectMs: median(connectMs) };
      console.log(`${backend}: exec p50 ${r1(results[backend].execMs)} ms, ${opt('mb', 50)} MB in ${r1(results[backend].mbPerS)} MB/s, connect+true p50 ${r1(results[backend].connectMs)} ms`);
    } catch (err) {
      if (process.env.BENCH_DEBUG) console.error(readFileSync(join(dir, `${name}.log`), 'utf8').split('\n').filter((l) => !/syslog/.test(l)).slice(-60).join('\n'));
      throw err;
    } finally {
      await driver.kill(h, 'SIGKILL');
    }
  }
  const p = results.passt;
  const s = results.slirp;
  console.log(`ratios passt/slirp: exec ${r1((p.execMs / s.execMs) * 100) / 100}, throughput ${r1((p.mbPerS / s.mbPerS) * 100) / 100}, connect ${r1((p.connectMs / s.connectMs) * 100) / 100}`);
  rmSync(dir, { recursive: true, force: true });
}
