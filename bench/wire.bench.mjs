#!/usr/bin/env node
/**
 * Wire bench: what a hostile or broken client costs the daemon (issue 11, item 4). One isolated
 * install, no VM; the daemon runs from dist/ (or BANGER_DIST) and each attack gets a fresh daemon.
 *
 *   node scripts/build.mjs && node bench/wire.bench.mjs [--line-mib 48] [--stdin-mib 512] [--idle 3000] [--wait-s 15] [--only line,stdin,idle]
 *
 * - long line: a 48 MiB line without a newline; daemon CPU seconds spent on it (utime+stime from /proc).
 * - stdin flood: 512 MiB of stdin frames after an `image.import` request of a FIFO (a busy call that
 *   reads no stdin); daemon peak RSS (VmHWM) and RSS after.
 * - idle: 3,000 connections that never send a request; how many the daemon still holds after `--wait-s`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isolatedEnv, sleep } from './lib.mjs';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = process.env.BANGER_DIST ?? join(REPO, 'dist');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const MiB = 1024 * 1024;

const clkTck = 100;
const cpuSeconds = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / clkTck;
};
const statusKb = (pid, key) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${key}:\\s+(\\d+)`))[1]);

async function withDaemon(fn) {
  const root = mkdtempSync(join(tmpdir(), 'banger-wirebench-'));
  const env = isolatedEnv(root, { BANGER_NO_SYSTEM: '1' });
  const sock = join(root, 'run', 'banger', 'bangerd.sock');
  const d = spawn(process.execPath, [join(DIST, 'daemon', 'main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    for (let i = 0; ; i++) {
      if (await request(sock, '{"v":1,"method":"daemon.status","params":{}}\n').then(() => true, () => false)) break;
      if (i > 200) throw new Error('daemon did not start');
      await sleep(100);
    }
    return await fn(d.pid, sock);
  } finally {
    d.kill('SIGKILL');
    await new Promise((r) => d.once('exit', r));
    rmSync(root, { recursive: true, force: true });
  }
}

function request(sock, text) {
  return new Promise((resolve, reject) => {
    const s = connect(sock, () => s.write(text));
    let buf = '';
    s.on('data', (c) => (buf += c));
    s.on('error', reject);
    s.on('close', () => resolve(buf));
  });
}

/** Waits until the daemon's CPU time stops growing (nothing left to chew on). */
async function settleCpu(pid) {
  let last = cpuSeconds(pid);
  for (;;) {
    await sleep(1000);
    const now = cpuSeconds(pid);
    if (now - last < 0.02) return now;
    last = now;
  }
}

async function longLine(mib) {
  return withDaemon(async (pid, sock) => {
    const cpu0 = await settleCpu(pid);
    const t0 = Date.now();
    await new Promise((resolve) => {
      const s = connect(sock);
      s.resume(); // read (and ignore) the answer, so the daemon's close is seen
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      const chunk = Buffer.alloc(MiB, 'a');
      let sent = 0;
      const pump = () => {
        while (sent < mib) {
          sent++;
          if (!s.write(chunk)) return void s.once('drain', pump);
        }
        s.end();
      };
      s.on('connect', pump);
    });
    const cpu = (await settleCpu(pid)) - cpu0;
    return { lineMiB: mib, daemonCpuSeconds: Math.round(cpu * 100) / 100, wallSeconds: (Date.now() - t0) / 1000 };
  });
}

/**
 * The call that reads no stdin and stays busy: `image.import` of a FIFO nobody writes yet (the daemon
 * waits in open). Once the flood is sent the bench opens and closes the FIFO, so the import fails and answers.
 */
async function stdinFlood(mib) {
  return withDaemon(async (pid, sock) => {
    const fifo = join(dirname(sock), 'flood.fifo');
    execFileSync('mkfifo', [fifo]);
    const request = JSON.stringify({ v: 1, method: 'image.import', params: { name: 'flood', rootfsTar: fifo } });
    const rss0 = statusKb(pid, 'VmRSS');
    const frame = Buffer.from(`${JSON.stringify({ stdin: Buffer.alloc(192 * 1024, 7).toString('base64') })}\n`);
    const frames = Math.ceil((mib * MiB) / (192 * 1024));
    let reply = '';
    const t0 = Date.now();
    await new Promise((resolve) => {
      const s = connect(sock);
      s.on('data', (c) => (reply += c));
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      let sent = 0;
      const pump = () => {
        while (sent < frames) {
          sent++;
          if (!s.write(frame)) return void s.once('drain', pump);
        }
        // all handed over: let the import fail (EOF on the FIFO) so the daemon answers
        s.once('drain', () => closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK)));
        if (s.writableLength === 0) s.emit('drain');
      };
      s.on('connect', () => {
        s.write(`${request}\n`);
        pump();
      });
    });
    await sleep(1000);
    return {
      stdinMiB: mib,
      answered: /"result"|"error"/.test(reply),
      rssBeforeMiB: Math.round(rss0 / 1024),
      peakRssMiB: Math.round(statusKb(pid, 'VmHWM') / 1024),
      rssAfterMiB: Math.round(statusKb(pid, 'VmRSS') / 1024),
      seconds: (Date.now() - t0) / 1000,
    };
  });
}

async function idle(n, waitS) {
  return withDaemon(async (_pid, sock) => {
    let open = 0;
    let refused = 0;
    const socks = [];
    for (let i = 0; i < n; i++) {
      const s = connect(sock);
      socks.push(s);
      s.on('error', () => {});
      s.on('data', (c) => {
        if (String(c).includes('"unavailable"')) refused++;
      });
      s.on('connect', () => open++);
      s.on('close', () => open--);
      if (i % 200 === 199) await sleep(50);
    }
    await sleep(1000);
    const heldAtStart = open;
    await sleep(waitS * 1000);
    const held = open;
    for (const s of socks) s.destroy();
    return { connections: n, heldAfter1s: heldAtStart, refusedUnavailable: refused, [`heldAfter${waitS}s`]: held };
  });
}

const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : ['line', 'stdin', 'idle'];
const out = {};
if (only.includes('line')) out.longLine = await longLine(opt('line-mib', 48));
if (only.includes('stdin')) out.stdinFlood = await stdinFlood(opt('stdin-mib', 512));
if (only.includes('idle')) out.idle = await idle(opt('idle', 3000), opt('wait-s', 15));
console.log(JSON.stringify(out, null, 2));
