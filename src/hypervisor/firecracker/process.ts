/**
 * The firecracker process seen from the host: spawning it through bangerd-root when jailed,
 * waiting for its API socket to answer, telling whether a pid is still ours, and stopping it.
 * The driver (driver.ts) decides what to start and when; this file only handles processes and waits.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { BangerError } from '../../api/errors.js';
import { pidAlive, which } from '../../host/exec.js';
import { readCmdline } from '../../host/procstat.js';
import type { VmSpec } from '../driver.js';
import type { createApiClient } from './api.js';
import { DEFAULT_CHROOT_BASE, JAIL_API_SOCKET, type JailerConfig, type JailerHost } from './jailer.js';

/** Polls the API until it answers; fails early, with the console tail, if the process exits. */
export async function waitForApi(
  api: ReturnType<typeof createApiClient>,
  exit: Promise<number>,
  o: { timeoutMs: number; serialLogPath: string; jailed: boolean },
): Promise<void> {
  let exitCode: number | undefined;
  void exit.then(
    (code) => (exitCode = code),
    () => (exitCode = 127),
  );
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    // The jailer forks Firecracker off and exits 0 (1.7+): only a failing jailer is fatal.
    if (exitCode !== undefined && !(o.jailed && exitCode === 0)) {
      throw new BangerError('internal', `firecracker exited (code ${exitCode}) before its API answered: ${await tail(o.serialLogPath)}`);
    }
    try {
      await api.send({ method: 'GET', path: '/' });
      return;
    } catch (err) {
      if (!(err instanceof BangerError) || err.code !== 'unavailable') throw err;
    }
    if (Date.now() > deadline) {
      throw new BangerError('internal', `firecracker's API socket ${api.socketPath} did not answer within ${o.timeoutMs} ms: ${await tail(o.serialLogPath)}`);
    }
    await sleep(20);
  }
}

async function tail(path: string, bytes = 1500): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.slice(-bytes).trim() || '(no output)';
}

export async function absolute(bin: string): Promise<string> {
  if (bin.startsWith('/')) return bin;
  const found = await which(bin);
  if (!found) throw new BangerError('unavailable', `${bin} not found on PATH; set its absolute path in config.toml`);
  return found;
}

export async function spawnViaHost(host: JailerHost, spec: VmSpec, firecrackerBin: string, jailer: JailerConfig, netns: string | undefined): Promise<{ pid: number; exit: Promise<number> }> {
  const { pid } = await host.spawn({
    vmId: spec.id,
    jailerBin: await absolute(jailer.bin),
    firecrackerBin: await absolute(firecrackerBin),
    chrootBase: jailer.chrootBaseDir ?? DEFAULT_CHROOT_BASE,
    apiSock: JAIL_API_SOCKET,
    serialLog: spec.serialLogPath,
    ...(netns ? { netns } : {}),
  });
  // Not our child: its exit code is not ours to read. The jailer exits 0 after forking Firecracker off.
  // Only start-up needs it (waitForApi): stop watching after a minute rather than poll for the VM's lifetime.
  const exit = (async () => {
    for (let i = 0; i < 1200; i++) {
      if (!pidAlive(pid)) return 0;
      await sleep(50);
    }
    return new Promise<number>(() => {});
  })();
  return { pid, exit };
}

/** Alive, not a zombie, and still the process we started (pids get reused). */
export function processIsOurs(pid: number, cmdlineMarker: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid)) return false; // pidAlive: not a zombie either
  const argv = readCmdline(pid);
  if (argv === null) return pidAlive(pid); // unreadable: trust that it is still there
  return argv.some((arg) => arg.includes(cmdlineMarker));
}

export function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

export async function waitForExit(running: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (running()) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

export async function forceStop(pid: number, graceMs: number): Promise<void> {
  if (pid <= 0 || !pidAlive(pid)) return;
  signalPid(pid, 'SIGKILL');
  await waitForExit(() => processIsOurs(pid, ''), graceMs);
}
