#!/usr/bin/env node
/**
 * Network bench: `.vm` DNS latency (p50/p99 over 10,000 queries on loopback) and SSH connect time
 * in user vs bridge mode. Everything runs inside a network namespace the bench creates and deletes:
 * one isolated install whose daemon, VMs, bridge and DNS server live there, so no packet leaves it.
 *
 *   node scripts/build.mjs && node bench/network.bench.mjs [--queries 10000] [--ssh 20] [--openssh 5]
 *
 * The outer process sets up (2 VM boots) and re-runs this file inside the namespace (`--inner`)
 * for the measurements. Needs root (ip netns, bridge mode).
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentiles as stats } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};

const r3 = (x) => Math.round(x * 1000) / 1000;
const fmt = (s, unit = 'ms') => `p50 ${r3(s.p50)} ${unit}, p90 ${r3(s.p90)}, p99 ${r3(s.p99)}, min ${r3(s.min)}, max ${r3(s.max)} (n=${s.n})`;

if (args.includes('--inner')) await inner(JSON.parse(opt('inner')));
else await outer();

/** Inside the namespace: measure and print JSON on stdout. */
async function inner(cfg) {
  const dnsPacket = (await import('dns-packet')).default;
  const { run } = await import(join(REPO, 'dist', 'host', 'exec.js'));
  const ssh2 = (await import('ssh2')).default;

  // DNS: sequential queries on one socket, each timed from send to matching reply.
  const sock = createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  const pending = new Map();
  sock.on('message', (m) => {
    const id = m.readUInt16BE(0);
    const done = pending.get(id);
    if (done) {
      pending.delete(id);
      done(m);
    }
  });
  const ask = (name, id) =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        pending.delete(id);
        reject(new Error('timeout'));
      }, 2000);
      pending.set(id, (m) => {
        clearTimeout(t);
        resolve(m);
      });
      sock.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] }), cfg.dnsPort, '127.0.0.1');
    });
  const names = [`${cfg.bridgeVm}.vm`, `${cfg.userVm}.vm`, 'ghost.vm'];
  for (let i = 0; i < 200; i++) await ask(names[i % 3], i % 65536); // warm-up
  const lat = [];
  let wrong = 0;
  let timeouts = 0;
  for (let i = 0; i < cfg.queries; i++) {
    const name = names[i % 3];
    const t0 = process.hrtime.bigint();
    try {
      const reply = dnsPacket.decode(await ask(name, (i + 1000) % 65536));
      lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const want = name === 'ghost.vm' ? 'NXDOMAIN' : 'NOERROR';
      if (reply.rcode !== want) wrong++;
    } catch {
      timeouts++;
    }
  }
  sock.close();

  // SSH: ssh2 connect + key auth to "ready", and a full OpenSSH `ssh NAME.vm true`, interleaved per mode.
  const key = readFileSync(cfg.keyPath);
  const connectOnce = (host, port) =>
    new Promise((resolve, reject) => {
      const c = new ssh2.Client();
      const t0 = process.hrtime.bigint();
      c.on('ready', () => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        c.end();
        resolve(ms);
      });
      c.on('error', reject);
      c.connect({ host, port, username: 'root', privateKey: key, readyTimeout: 30_000, hostVerifier: () => true });
    });
  const targets = { user: cfg.userSsh, bridge: cfg.bridgeSsh };
  const ssh = { user: [], bridge: [] };
  const openssh = { user: [], bridge: [] };
  for (let i = 0; i < cfg.sshN; i++) {
    for (const mode of ['user', 'bridge']) ssh[mode].push(await connectOnce(targets[mode].host, targets[mode].port));
  }
  for (let i = 0; i < cfg.opensshN; i++) {
    for (const mode of ['user', 'bridge']) {
      const t0 = process.hrtime.bigint();
      const r = await run(['ssh', '-F', cfg.sshConfig, '-o', 'BatchMode=yes', `${cfg[mode === 'user' ? 'userVm' : 'bridgeVm']}.vm`, 'true'], { check: false, timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`ssh ${mode} failed (${r.code}): ${r.stderr}`);
      openssh[mode].push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  process.stdout.write(
    JSON.stringify({
      dns: { ...stats(lat), wrong, timeouts },
      ssh2: { user: stats(ssh.user), bridge: stats(ssh.bridge) },
      openssh: { user: stats(openssh.user), bridge: stats(openssh.bridge) },
    }),
  );
}

async function outer() {
  const { netnsInstall } = await import(join(REPO, '.tmp', 'test-dist', 'test', 'netns.fixture.js'));
  const queries = Number(opt('queries', '10000'));
  const sshN = Number(opt('ssh', '20'));
  const opensshN = Number(opt('openssh', '5'));
  const t0 = Date.now();
  const inst = await netnsInstall();
  try {
    const mk = async (argv) => {
      const r = await inst.cli(argv);
      if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
    };
    await mk(['vm', 'create', '--name', 'benchu', '--no-egress']);
    await mk(['vm', 'create', '--name', 'benchb', '--network', 'bridge']);
    const show = async (n) => JSON.parse((await inst.cli(['vm', 'show', n])).stdout);
    const u = await show('benchu');
    const b = await show('benchb');
    const dns = JSON.parse((await inst.cli(['dns', 'status', '--json'])).stdout);
    const sshConfig = (await inst.cli(['ssh-config', '--path'])).stdout.trim();
    const cfg = {
      queries,
      sshN,
      opensshN,
      dnsPort: dns.port,
      userVm: 'benchu',
      bridgeVm: 'benchb',
      userSsh: u.ssh,
      bridgeSsh: b.ssh,
      keyPath: join(inst.stateDir, 'ssh', 'id_ed25519'),
      sshConfig,
    };
    process.stderr.write(`setup ${((Date.now() - t0) / 1000).toFixed(1)} s (namespace ${inst.ns}, 2 VMs); measuring...\n`);
    const r = await inst.inNs([process.execPath, fileURLToPath(import.meta.url), '--inner', JSON.stringify(cfg)], { timeoutMs: 1_200_000, check: true });
    const m = JSON.parse(r.stdout);
    const ratio = (k) => r3(m[k].bridge.p50 / m[k].user.p50);
    console.log(`banger network bench (${new Date().toISOString()}, ${process.version}, TCG guests)`);
    console.log(`DNS ${queries} A queries on loopback (A hit/A hit/NXDOMAIN rotation): ${fmt(m.dns)}; mean ${r3(m.dns.mean)} ms; wrong ${m.dns.wrong}, timeouts ${m.dns.timeouts}`);
    console.log(`SSH connect+auth (ssh2, n=${sshN}):   user ${fmt(m.ssh2.user)}`);
    console.log(`                                      bridge ${fmt(m.ssh2.bridge)}`);
    console.log(`  ratio bridge/user (p50): ${ratio('ssh2')}`);
    console.log(`OpenSSH \`ssh NAME.vm true\` (n=${opensshN}): user ${fmt(m.openssh.user)}`);
    console.log(`                                      bridge ${fmt(m.openssh.bridge)}`);
    console.log(`  ratio bridge/user (p50): ${ratio('openssh')}`);
    console.log(JSON.stringify({ queries, ...m, ratio: { ssh2: ratio('ssh2'), openssh: ratio('openssh') } }));
  } finally {
    await inst.destroy();
    process.stderr.write(`total ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  }
}
