/**
 * What a user-mode guest can reach, on real guests with the real QEMU driver and passt (issue 11
 * item 9). Everything runs inside a network namespace this test creates: its 127.0.0.1 stands for
 * the host's loopback (a listener the guest must not reach by default), a dummy interface holds
 * 10.99.0.1 (a DNS server and an HTTP listener: the "outside" the guest must still reach), and
 * /etc/netns/<ns>/resolv.conf names that DNS server, so passt forwards the guest's queries to it.
 * No packet leaves the namespace. Also: save + restore under passt, and no passt left behind after
 * a kill or a failed boot.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, spawnProcess, which, type ProcessHandle } from '../../host/exec.js';
import { freePort } from '../../host/freeport.js';
import { silentLogger } from '../../host/logger.js';
import { goldenState } from '../../../test/install.fixture.js';
import { artifactsFromState } from '../../../test/conformance.fixture.js';
import type { VmHandles, VmSpec } from '../driver.js';
import { createOverlay } from './disk.js';
import { createQemuDriver, type QemuHandles } from './driver.js';
import { passtRunning } from './passt.js';

const golden = artifactsFromState(join(await goldenState(), 'state', 'banger'));
const havePasst = (await which('passt')) !== null;
if (!havePasst) console.warn('[usernet.vm.test] skipped: passt is not installed (apt-get install passt)');

const NS = `bgpasst-${process.pid}`;
const OUTSIDE = '10.99.0.1';
const LOOPBACK_PORT = 18080;

// Inside the namespace: DNS on OUTSIDE:53 answering every A query with OUTSIDE, "egress-ok" on
// OUTSIDE:8080, "host-loopback" on 127.0.0.1:18080, and a pipe from stdin/stdout to 127.0.0.1:PORT.
const SERVERS = `
const net=require('net'),dgram=require('dgram');
const reply=(t)=>(s)=>s.end(t);
net.createServer(reply('egress-ok\\n')).listen(8080,'${OUTSIDE}');
net.createServer(reply('host-loopback\\n')).listen(${LOOPBACK_PORT},'127.0.0.1');
const d=dgram.createSocket('udp4');
d.on('message',(q,r)=>{let i=12;while(q[i])i+=q[i]+1;const qEnd=i+5;
 const h=Buffer.from(q.subarray(0,12));h.writeUInt16BE(0x8180,2);h.writeUInt16BE(1,6);h.writeUInt32BE(0,8);
 const a=Buffer.from([0xc0,12,0,1,0,1,0,0,0,60,0,4,...'${OUTSIDE}'.split('.').map(Number)]);
 d.send(Buffer.concat([h,q.subarray(12,qEnd),a]),r.port,r.address)});
d.bind(53,'${OUTSIDE}',()=>console.log('ready'));`;
const PIPE = "const s=require('net').connect(Number(process.argv[1]),'127.0.0.1');process.stdin.pipe(s);s.pipe(process.stdout);s.on('error',()=>process.exit(1));s.on('close',()=>process.exit(0));";

function sshExec(port: number, key: Buffer, command: string, timeoutMs = 15_000): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    const timer = setTimeout(() => (c.end(), reject(new Error('ssh timeout'))), timeoutMs);
    c.on('ready', () =>
      c.exec(command, (err, ch) => {
        if (err) return reject(err);
        let stdout = '';
        ch.on('data', (d: Buffer) => (stdout += d.toString()));
        ch.stderr.on('data', () => {});
        ch.on('close', (code: number) => (clearTimeout(timer), c.end(), resolve({ code, stdout })));
      }),
    );
    c.on('error', (err) => (clearTimeout(timer), reject(err)));
    c.connect({ host: '127.0.0.1', port, username: 'root', privateKey: key, readyTimeout: timeoutMs, hostVerifier: () => true });
  });
}

async function waitForSsh(port: number, key: Buffer, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    try {
      if ((await sshExec(port, key, 'true', 4000)).code === 0) return;
    } catch (err) {
      if (Date.now() - t0 > timeoutMs) throw err;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Guest: print what a TCP connection to HOST:PORT says, or "refused/timeout". */
const tcpRead = (host: string, port: number) =>
  `perl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(PeerAddr=>"${host}:${port}",Timeout=>4) or do { print "unreachable\\n"; exit 0 }; print scalar <$s>'`;

describe.skipIf(!havePasst)('user-mode guest reach (passt)', () => {
  const driver = createQemuDriver({ log: silentLogger });
  let dir: string;
  let key: Buffer;
  let pub: string;
  let servers: ProcessHandle;
  const relayServers: Server[] = [];
  const pipes = new Set<ProcessHandle>();
  const started: VmHandles[] = [];

  /** A 127.0.0.1 port of this process piped to `nsPort` on the namespace's 127.0.0.1. */
  async function relayTo(nsPort: number): Promise<number> {
    const srv = createServer((sock) => {
      const p = spawnProcess([process.execPath, '-e', PIPE, String(nsPort)], { netns: NS, stdio: ['pipe', 'pipe', 'ignore'] });
      pipes.add(p);
      p.child.stdin!.on('error', () => sock.destroy());
      sock.pipe(p.child.stdin!);
      p.child.stdout!.pipe(sock);
      sock.on('error', () => p.kill());
      sock.on('close', () => p.kill());
      void p.exit.then(() => (pipes.delete(p), sock.destroy()));
    });
    relayServers.push(srv);
    const port = await new Promise<number>((r) => srv.listen(0, '127.0.0.1', () => r((srv.address() as { port: number }).port)));
    return port;
  }

  async function spec(name: string, disk: string, sshHostPort: number, extra: Partial<Extract<VmSpec['network'], { mode: 'user' }>> = {}, restoreFrom?: string): Promise<VmSpec> {
    const vmDir = join(dir, name);
    mkdirSync(vmDir, { recursive: true });
    return {
      id: `test-${name}`,
      name,
      vcpu: 1,
      memoryMib: 512,
      kernelPath: golden.kernelPath,
      initrdPath: golden.initrdPath,
      cmdline: `console=ttyS0 quiet tsc_early_khz=2300000 tsc=reliable root=/dev/vda banger.hostname=${name} banger.key=${pub} banger.ip=10.0.2.15/24 banger.gw=10.0.2.2 banger.dns=10.0.2.3`,
      diskPath: disk,
      diskFormat: 'qcow2',
      serialLogPath: join(vmDir, 'serial.log'),
      logPath: join(vmDir, 'hypervisor.log'),
      runtimeDir: vmDir,
      accel: 'tcg',
      network: { mode: 'user', sshHostPort, egress: true, forwards: [], netns: NS, ...extra },
      ...(restoreFrom ? { restoreFrom } : {}),
    };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bpasst-'));
    await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'key')]);
    key = await readFile(join(dir, 'key'));
    pub = (await readFile(join(dir, 'key.pub'), 'utf8')).split(' ')[1];
    await run(['ip', 'netns', 'add', NS]);
    const inNs = (argv: string[]) => run(['ip', '-n', NS, ...argv]);
    await inNs(['link', 'set', 'lo', 'up']);
    await inNs(['tuntap', 'add', 'dev', 'eg0', 'mode', 'tap']); // no dummy module here; an unopened tap holds the address
    await inNs(['addr', 'add', `${OUTSIDE}/24`, 'dev', 'eg0']);
    await inNs(['link', 'set', 'eg0', 'up']);
    await inNs(['route', 'add', 'default', 'dev', 'eg0']);
    mkdirSync(`/etc/netns/${NS}`, { recursive: true });
    writeFileSync(`/etc/netns/${NS}/resolv.conf`, `nameserver ${OUTSIDE}\n`);
    servers = spawnProcess([process.execPath, '-e', SERVERS], { netns: NS, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => servers.child.stdout!.once('data', () => resolve()));
  }, 60_000);

  afterAll(async () => {
    for (const h of started) await driver.kill(h, 'SIGKILL').catch(() => {});
    servers?.kill('SIGKILL');
    for (const p of pipes) p.kill('SIGKILL');
    for (const s of relayServers) s.close();
    await run(['ip', 'netns', 'delete', NS], { check: false });
    rmSync(`/etc/netns/${NS}`, { recursive: true, force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  let a: QemuHandles;
  let aPort: number;

  it('by default: DNS and egress work, the host loopback is unreachable', async () => {
    await createOverlay(golden.rootfsPath, 'raw', join(dir, 'a.qcow2'));
    const nsPort = await freePort();
    a = (await driver.start(await spec('a', join(dir, 'a.qcow2'), nsPort), silentLogger)) as QemuHandles;
    started.push(a);
    expect(a.passt).toBeDefined();
    expect(passtRunning(a.passt!)).toBe(true);
    aPort = await relayTo(nsPort);
    await waitForSsh(aPort, key, 300_000).catch(async (err) => {
      console.error(await readFile(join(dir, 'a', 'hypervisor.log'), 'utf8'), (await readFile(join(dir, 'a', 'serial.log'), 'utf8')).slice(-3000));
      throw err;
    });
    expect((await sshExec(aPort, key, 'getent hosts mirror.example')).stdout).toMatch(new RegExp(`^${OUTSIDE.replaceAll('.', '\\.')}\\s+mirror\\.example`));
    expect((await sshExec(aPort, key, tcpRead(OUTSIDE, 8080))).stdout).toBe('egress-ok\n');
    expect((await sshExec(aPort, key, tcpRead('10.0.2.2', LOOPBACK_PORT))).stdout).toBe('unreachable\n');
    // A forward cannot be added to a running passt VM (refused, nothing changes).
    await expect(driver.ports.addForward(a, await freePort(), 80)).rejects.toMatchObject({ code: 'conflict' });
  }, 480_000);

  it('save + restore keeps passt networking and the block; kill leaves no passt behind', async () => {
    const state = join(dir, 'a.state');
    await driver.snapshots.saveState(a, state); // exec: migration under -sandbox
    await driver.kill(a, 'SIGKILL');
    expect(passtRunning(a.passt!)).toBe(false);
    expect(existsSync(join(dir, 'a', 'passt.sock'))).toBe(false); // the pair's rendezvous is gone too

    await createOverlay(join(dir, 'a.qcow2'), 'qcow2', join(dir, 'b.qcow2'));
    const nsPort = await freePort();
    const b = (await driver.start(await spec('b', join(dir, 'b.qcow2'), nsPort, {}, state), silentLogger)) as QemuHandles;
    started.push(b);
    const port = await relayTo(nsPort);
    await waitForSsh(port, key, 200_000);
    expect((await sshExec(port, key, `hostname; ${tcpRead(OUTSIDE, 8080)}; ${tcpRead('10.0.2.2', LOOPBACK_PORT)}`)).stdout).toBe('a\negress-ok\nunreachable\n');
    // QEMU dies on its own (a crash, no driver call): passt follows, its end of the pair closed.
    process.kill(b.pid, 'SIGKILL');
    const t0 = Date.now();
    while (passtRunning(b.passt!) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
    expect(passtRunning(b.passt!)).toBe(false);
    await driver.kill(b);
  }, 480_000);

  it('with host access: the guest reaches the host loopback through 10.0.2.2 (slirp); its saved state restores under passt', async () => {
    await createOverlay(golden.rootfsPath, 'raw', join(dir, 'c.qcow2'));
    const nsPort = await freePort();
    const c = (await driver.start(await spec('c', join(dir, 'c.qcow2'), nsPort, { hostAccess: true }), silentLogger)) as QemuHandles;
    started.push(c);
    expect(c.passt).toBeUndefined();
    const port = await relayTo(nsPort);
    await waitForSsh(port, key, 300_000);
    expect((await sshExec(port, key, tcpRead('10.0.2.2', LOOPBACK_PORT))).stdout).toBe('host-loopback\n');

    // A state saved under slirp (as warm snapshots are: their template boots with slirp) restores into
    // a passt VM, which is then cut off from the host loopback.
    const state = join(dir, 'c.state');
    await driver.snapshots.saveState(c, state);
    await driver.kill(c, 'SIGKILL');
    await createOverlay(join(dir, 'c.qcow2'), 'qcow2', join(dir, 'e.qcow2'));
    const nsPortE = await freePort();
    const e = (await driver.start(await spec('e', join(dir, 'e.qcow2'), nsPortE, {}, state), silentLogger)) as QemuHandles;
    started.push(e);
    expect(e.passt).toBeDefined();
    const portE = await relayTo(nsPortE);
    await waitForSsh(portE, key, 200_000);
    expect((await sshExec(portE, key, `hostname; ${tcpRead(OUTSIDE, 8080)}; ${tcpRead('10.0.2.2', LOOPBACK_PORT)}`)).stdout).toBe('c\negress-ok\nunreachable\n');
    await driver.kill(e);
    expect(passtRunning(e.passt!)).toBe(false);
  }, 600_000);

  it('a failed boot leaves no passt behind', async () => {
    const nsPort = await freePort();
    const s = await spec('d', join(dir, 'missing.qcow2'), nsPort);
    await expect(driver.start(s, silentLogger)).rejects.toMatchObject({ code: expect.any(String) });
    const left = await run(['pgrep', '-f', `127.0.0.1/${nsPort}:22`], { check: false });
    expect(left.stdout.trim()).toBe('');
    expect(existsSync(join(dir, 'd', 'passt.sock'))).toBe(false);
  });

  it('left no QEMU or passt process of this test running', async () => {
    const r = await run(['pgrep', '-f', dir], { check: false });
    expect(r.stdout.trim()).toBe('');
  });
});
