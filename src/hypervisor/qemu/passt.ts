/**
 * The passt process behind one VM's user-mode network (argv: qemu/usernet.ts). One passt per VM,
 * spawned detached before QEMU, its pid kept in handles.json next to QEMU's.
 *
 * passt and QEMU share one connected unix socket pair, each end inherited by one of them as fd 3
 * (the daemon closes its copies at once). passt exits when QEMU's end closes, so whatever ends QEMU
 * — stop, kill, a crash, a daemon that is not running — ends passt too; the driver still stops it
 * explicitly on its own paths, including a boot that failed before QEMU ran.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, connect, type Socket } from 'node:net';
import { BangerError } from '../../api/errors.js';
import { spawnProcess } from '../../host/exec.js';
import { processMatches, processState, tailFile, waitUntil } from './process.js';
import { buildPasstArgs, passtMarker, passtResolver } from './usernet.js';
import type { VmSpec } from '../driver.js';

/** What handles.json keeps about a VM's passt: its pid and the argument that names it (pid-reuse guard). */
export interface PasstHandle {
  pid: number;
  marker: string;
}

type UserNet = Extract<VmSpec['network'], { mode: 'user' }>;

/** The fd number each process gets its end of the pair at. */
export const PASST_FD = 3;

/**
 * Node's sockets are non-blocking, and the flag lives on the shared open file: passt, which writes
 * to its end as to a blocking socket, then drops frames under load (a 10 MB upload over SSH broke
 * the connection every time). This runs first (perl-base is Essential in Debian), clears O_NONBLOCK
 * on fd 3, raises its send buffer (as passt does for sockets it accepts itself: with the default, a
 * 50 MB upload ran at 1 MB/s vs 6.3 MB/s with it, slirp 6.7) and execs passt in the same process, so
 * the pid stays passt's. Without close-on-exec for fd 3 (`$^F`).
 */
export const BLOCKING_SHIM = [
  'perl',
  '-MFcntl',
  '-MSocket',
  '-e',
  'BEGIN { $^F = 255 } open(my $h, "+<&=", 3) or die "passt shim: fd 3: $!\\n"; fcntl($h, F_SETFL, fcntl($h, F_GETFL, 0) & ~O_NONBLOCK) or die "passt shim: $!\\n"; setsockopt($h, SOL_SOCKET, SO_SNDBUF, 4194304); exec { $ARGV[0] } @ARGV or die "passt shim: exec $ARGV[0]: $!\\n";',
];

/** Is 127.0.0.1:port in LISTEN state in /proc/net/tcp text? Pure. */
export function tcpListening(procNetTcp: string, port: number): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return procNetTcp.split('\n').some((line) => {
    const f = line.trim().split(/\s+/);
    return f[1] === local && f[3] === '0A';
  });
}

const readOr = (p: string) => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
};

/** True while the pid is this VM's passt. */
export const passtRunning = (h: PasstHandle): boolean => processMatches(h.pid, h.marker);

/**
 * A connected pair of unix stream sockets (Node has no socketpair): listen on `rendezvous`, connect,
 * accept, remove the path. The caller hands one end to each child and destroys both.
 */
export async function socketPair(rendezvous: string): Promise<[Socket, Socket]> {
  await rm(rendezvous, { force: true });
  const server = createServer({ pauseOnConnect: true });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(rendezvous, resolve);
    });
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const client = connect({ path: rendezvous });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    client.pause();
    return [client, await accepted];
  } finally {
    server.close();
    await rm(rendezvous, { force: true });
  }
}

/**
 * Spawns passt on `end` and resolves once it listens on the SSH port (QEMU may start then). Rejects
 * with passt's own words when it exits first (a taken port, a bad option), leaving nothing running.
 */
export async function startPasst(p: { bin: string; net: UserNet; end: Socket; logPath: string; timeoutMs: number }): Promise<PasstHandle> {
  const argv = [...BLOCKING_SHIM, p.bin, ...buildPasstArgs(p.net, PASST_FD, passtResolver(readOr('/etc/resolv.conf'), readOr('/run/systemd/resolve/resolv.conf')))];
  const fd = openSync(p.logPath, 'a');
  let child;
  try {
    writeSync(fd, `[banger] ${new Date().toISOString()} starting ${argv.join(' ')}\n`);
    child = spawnProcess(argv, { detached: true, stdio: ['ignore', fd, fd, p.end], netns: p.net.netns });
  } finally {
    closeSync(fd);
  }
  let exitCode: number | null = null;
  void child.exit.then(
    (c) => (exitCode = c),
    () => (exitCode = 127),
  );
  if (child.pid < 0) await child.exit; // rejects: passt is not installed
  const h: PasstHandle = { pid: child.pid, marker: passtMarker(p.net.sshHostPort) };
  // Our own namespace's table first: passt moves into an empty network namespace of its own once set
  // up, so its /proc/PID/net is only right early (tests running it in a namespace rely on that).
  const listening = () => tcpListening(readOr('/proc/self/net/tcp'), p.net.sshHostPort) || tcpListening(readOr(`/proc/${h.pid}/net/tcp`), p.net.sshHostPort);
  const ready = await waitUntil(() => exitCode !== null || listening(), p.timeoutMs, 20);
  if (ready && exitCode === null) return h;
  const exited = exitCode; // read before stopPasst: passt exits 0 on our SIGTERM
  await stopPasst(h, 2000);
  const tail = await tailFile(p.logPath, 6);
  const taken = /Failed to bind/i.test(tail);
  throw new BangerError(
    taken ? 'conflict' : 'unavailable',
    exited === null
      ? `passt did not listen on 127.0.0.1:${p.net.sshHostPort} within ${p.timeoutMs} ms`
      : `passt exited with code ${exited} before the VM started${taken ? ': a forwarded host port is already in use; pick another port' : ''}. Last lines of ${p.logPath}:\n${tail}`,
    { details: { logPath: p.logPath } },
  );
}

/** Stops passt if it still runs (SIGTERM, then SIGKILL). Never throws. */
export async function stopPasst(h: PasstHandle, timeoutMs: number): Promise<void> {
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    if (!passtRunning(h)) return;
    try {
      process.kill(h.pid, signal);
    } catch {
      return; // gone meanwhile
    }
    if (await waitUntil(() => processState(h.pid) !== 'running', timeoutMs)) return;
  }
}
