/**
 * config.toml's `stats_poll_interval`: the daemon samples every running VM's hypervisor process
 * at that interval (CPU as a share of one core over the interval, RSS), and `vm stats` reports the
 * latest sample. Without a fresh sample (the VM just started, or the pid changed), `vm stats`
 * samples on demand as before. The CPU arithmetic is host/procstat.ts `cpuOver`.
 */
import { cpuOver, readUsage } from '../host/procstat.js';

export interface StatsSample {
  pid: number;
  cpuPercent: number | null;
  rssBytes: number | null;
  at: number;
}

function read(pid: number): { ticks: number; rss: number | null } | null {
  const u = readUsage(pid);
  return u && { ticks: u.ticks, rss: u.rssBytes };
}

export interface StatsSampler {
  /** Takes one sample of every running VM now. */
  tick(): void;
  /** Starts the timer (unref'd); returns a stop function. */
  start(): () => void;
  /** The latest sample of this VM's current process, if no older than two intervals. */
  latest(id: string, pid: number): StatsSample | null;
}

export function createStatsSampler(opts: { intervalMs: number; running: () => Array<{ id: string; pid: number | null }>; now?: () => number }): StatsSampler {
  const now = opts.now ?? Date.now;
  const prev = new Map<string, { pid: number; ticks: number; at: number }>();
  const latest = new Map<string, StatsSample>();

  function tick(): void {
    const seen = new Set<string>();
    for (const v of opts.running()) {
      if (!v.pid) continue;
      seen.add(v.id);
      const r = read(v.pid);
      const t = now();
      if (!r) continue;
      const p = prev.get(v.id);
      const cpu = p && p.pid === v.pid ? cpuOver(p.ticks, r.ticks, t - p.at) : null;
      prev.set(v.id, { pid: v.pid, ticks: r.ticks, at: t });
      if (cpu !== null) latest.set(v.id, { pid: v.pid, cpuPercent: cpu, rssBytes: r.rss, at: t });
    }
    for (const id of [...prev.keys()]) if (!seen.has(id)) (prev.delete(id), latest.delete(id));
  }

  return {
    tick,
    start(): () => void {
      tick();
      const timer = setInterval(tick, opts.intervalMs);
      timer.unref();
      return () => clearInterval(timer);
    },
    latest(id: string, pid: number): StatsSample | null {
      const s = latest.get(id);
      return s && s.pid === pid && now() - s.at <= 2 * opts.intervalMs ? s : null;
    },
  };
}
