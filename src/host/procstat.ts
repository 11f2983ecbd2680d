/** Process CPU and memory from /proc (Linux). Parsers are pure; sampling reads files. */
import { readFileSync } from 'node:fs';

/** utime+stime in clock ticks, from /proc/PID/stat (the comm field may contain spaces and parens). */
export function parseCpuTicks(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ", field 3 (state) is rest[0]; utime is field 14 → rest[11], stime rest[12].
  return Number(rest[11]) + Number(rest[12]);
}

export function parseRssBytes(status: string): number | null {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : null;
}

const TICKS_PER_SECOND = 100;

export async function sampleProcess(pid: number, windowMs = 250): Promise<{ cpuPercent: number | null; rssBytes: number | null }> {
  try {
    const a = parseCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, windowMs));
    const b = parseCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    const secs = (Date.now() - t0) / 1000;
    return { cpuPercent: ((b - a) / TICKS_PER_SECOND / secs) * 100, rssBytes: parseRssBytes(readFileSync(`/proc/${pid}/status`, 'utf8')) };
  } catch {
    return { cpuPercent: null, rssBytes: null };
  }
}
