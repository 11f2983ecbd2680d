/**
 * The one reader of /proc/<pid>/stat, /cmdline and /status (Linux): which process a pid is, its
 * state, parent, start time, CPU ticks and RSS. Every layer that asks /proc about a process asks
 * here, so the `(comm)` field — which may hold spaces and parentheses — is parsed once. Parsers are
 * pure; the readers return null when the process is gone or unreadable.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** The fields of /proc/PID/stat banger uses (see proc(5)). */
export interface ProcStat {
  pid: number;
  comm: string;
  /** One letter: R, S, D, Z (zombie), X (dead), T, ... */
  state: string;
  ppid: number;
  /** User and system CPU time in clock ticks. */
  utime: number;
  stime: number;
  /** Clock ticks after boot when the process started: with the pid, it names one process for good. */
  startTime: string | null;
}

/** USER_HZ: the unit of the tick fields (100 on every Linux banger runs on). */
export const TICKS_PER_SECOND = 100;

/** Parses /proc/PID/stat text; null when it is not one (numbers cut off at the end are NaN). Pure. */
export function parseStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  // Fields after "pid (comm) " start at field 3 (state): field N is rest[N - 3].
  const rest = text.slice(close + 2).trim().split(' ');
  const state = rest[0];
  if (!state) return null;
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state,
    ppid: Number(rest[4 - 3]),
    utime: Number(rest[14 - 3]),
    stime: Number(rest[15 - 3]),
    startTime: rest[22 - 3] ?? null,
  };
}

/** Exited but not yet reaped (Z), or dead (X). */
export const isZombie = (s: Pick<ProcStat, 'state'>): boolean => s.state === 'Z' || s.state === 'X';

export function parseRssBytes(status: string): number | null {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : null;
}

/** utime+stime in clock ticks, from /proc/PID/stat text; NaN when it is not one. */
export function parseCpuTicks(stat: string): number {
  const s = parseStat(stat);
  return s ? s.utime + s.stime : NaN;
}

const readOrNull = (path: string): string | null => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
};

/** /proc/PID/stat of a process, or null when there is none (or /proc cannot be read). */
export function readStat(pid: number): ProcStat | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const text = readOrNull(`/proc/${pid}/stat`);
  return text === null ? null : parseStat(text);
}

/** The same, without blocking (for scans over every pid). */
export async function readStatAsync(pid: number): Promise<ProcStat | null> {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return readFile(`/proc/${pid}/stat`, 'utf8').then(parseStat, () => null);
}

/** The argv of a live process, or null when it is gone or unreadable. */
export function readCmdline(pid: number): string[] | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const text = readOrNull(`/proc/${pid}/cmdline`);
  if (text === null) return null;
  const parts = text.split('\0');
  if (parts[parts.length - 1] === '') parts.pop(); // each argument ends with a NUL
  return parts;
}

/**
 * Live processes whose argv mentions `marker` (a socket or directory path only banger's own
 * processes carry): how a process is found that a crashed daemon spawned but never recorded.
 */
export function pidsMentioning(marker: string): number[] {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  return pids.map(Number).filter((pid) => {
    if (pid === process.pid) return false;
    const stat = readStat(pid);
    return stat !== null && !isZombie(stat) && (readCmdline(pid)?.some((a) => a.includes(marker)) ?? false);
  });
}

/** CPU ticks and RSS of a process now, or null when it is gone. */
export function readUsage(pid: number): { ticks: number; rssBytes: number | null } | null {
  const stat = readStat(pid);
  if (!stat) return null;
  const status = readOrNull(`/proc/${pid}/status`);
  return { ticks: stat.utime + stat.stime, rssBytes: status === null ? null : parseRssBytes(status) };
}

/** Pure: CPU percent of one core between two tick readings `elapsedMs` apart; null when not comparable (a new process). */
export function cpuOver(prevTicks: number, ticks: number, elapsedMs: number): number | null {
  if (elapsedMs <= 0 || ticks < prevTicks) return null;
  return ((ticks - prevTicks) / TICKS_PER_SECOND / (elapsedMs / 1000)) * 100;
}

/** CPU (percent of one core over `windowMs`) and RSS of a process; nulls when it is gone. */
export async function sampleProcess(pid: number, windowMs = 250): Promise<{ cpuPercent: number | null; rssBytes: number | null }> {
  const a = readUsage(pid);
  if (!a) return { cpuPercent: null, rssBytes: null };
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, windowMs));
  const b = readUsage(pid);
  if (!b) return { cpuPercent: null, rssBytes: null };
  return { cpuPercent: cpuOver(a.ticks, b.ticks, Date.now() - t0), rssBytes: b.rssBytes };
}
