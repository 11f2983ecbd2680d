/**
 * Facts about a hypervisor process from /proc, for VMs the daemon may not have spawned itself
 * (after a daemon restart QEMU is no longer our child, so there is no exit event, only polling).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { pidAlive } from '../../host/exec.js';
import { isZombie, parseStat, readCmdline, readStat } from '../../host/procstat.js';

export type ProcessState = 'running' | 'zombie' | 'gone';

/** State letter from /proc/<pid>/stat text (the field after the parenthesised command name). Pure. */
export const parseStatState = (stat: string): string | undefined => parseStat(stat)?.state;

export function processState(pid: number): ProcessState {
  if (!Number.isInteger(pid) || pid <= 0) return 'gone';
  const stat = readStat(pid);
  if (!stat) return pidAlive(pid) ? 'running' : 'gone';
  return isZombie(stat) ? 'zombie' : 'running';
}

export { readCmdline };

/**
 * Is `pid` a live (non-zombie) process whose argv mentions `marker`? Guards against pid reuse:
 * after a reboot or a long time, the pid in handles.json may belong to something else.
 */
export function processMatches(pid: number, marker: string): boolean {
  if (processState(pid) !== 'running') return false;
  const argv = readCmdline(pid);
  return argv !== null && argv.some((a) => a.includes(marker));
}

/** Polls until `isGone()` or the timeout; resolves true when gone. */
export async function waitUntil(isGone: () => boolean, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (isGone()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The last `maxLines` lines of a text file (reads at most `maxBytes` from the end); '' if missing. */
export async function tailFile(path: string, maxLines = 15, maxBytes = 16 * 1024): Promise<string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await fh.stat();
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    const lines = buf.toString('utf8').split('\n');
    if (start > 0) lines.shift(); // a partial first line
    while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
    return lines.slice(-maxLines).join('\n');
  } finally {
    await fh.close();
  }
}

/** Paths of the files a process has open for writing (from /proc/PID/fd and fdinfo); [] when it is gone. */
export function filesOpenForWriting(pid: number): string[] {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const fd of fds) {
    try {
      const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
      if (flags !== undefined && (parseInt(flags, 8) & 3) !== 0) out.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}
