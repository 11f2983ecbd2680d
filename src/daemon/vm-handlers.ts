/** vm.* handlers: adapt the wire to the VM service; no logic of their own beyond I/O plumbing. */
import { inDirectory, shellCommand } from '../guest/quote.js';
import { sampleProcess } from '../host/procstat.js';
import type { VmService } from '../vms/service.js';
import type { StatsSampler } from '../vms/stats.js';
import type { DiskManager } from '../hypervisor/driver.js';
import type { Paths } from '../store/paths.js';
import type { Handlers } from './dispatch.js';
import { constants } from 'node:os';
import { finished } from 'node:stream/promises';

type VmHandlers = Pick<
  Handlers,
  'vm.create' | 'vm.start' | 'vm.stop' | 'vm.restart' | 'vm.kill' | 'vm.delete' | 'vm.prune' | 'vm.set' | 'vm.list' | 'vm.show' | 'vm.exec' | 'vm.logs' | 'vm.sshInfo' | 'vm.stats'
>;

export function vmHandlers(vms: VmService, deps: { paths: Paths; disks: DiskManager; keyPath: () => string; knownHostsPath: () => string; stats?: StatsSampler }): VmHandlers {
  return {
    'vm.create': (p, ctx) => vms.create(p, ctx.progress, ctx.signal),
    'vm.start': (p, ctx) => vms.start(p.name, p.waitForSsh, ctx.progress, ctx.signal),
    'vm.stop': (p, ctx) => vms.stop(p.name, p.timeoutMs, ctx.progress),
    'vm.restart': (p, ctx) => vms.restart(p.name, p.timeoutMs, ctx.progress, ctx.signal),
    'vm.kill': (p) => vms.kill(p.name, p.signal),
    'vm.delete': async (p, ctx) => {
      await vms.delete(p.name, ctx.progress);
      return { ok: true as const };
    },
    'vm.prune': async (_p, ctx) => {
      const victims = vms.list().filter((v) => v.state !== 'running' && v.state !== 'starting' && v.state !== 'stopping');
      for (const v of victims) await vms.delete(v.name, ctx.progress);
      return { deleted: victims.map((v) => v.name) };
    },
    'vm.set': (p) =>
      vms.set(p.name, {
        vcpu: p.vcpu,
        memoryMib: p.memoryMib,
        diskSizeBytes: p.diskSize ? parseSizeStrict(p.diskSize) : undefined,
        nat: p.nat,
      }),
    'vm.list': () => vms.list(),
    'vm.show': (p) => vms.view(vms.lookup(p.name)),
    'vm.exec': async (p, ctx) => {
      const { rec, session } = await vms.session(p.name, ctx.signal);
      const cwd = p.cwd ?? rec.workspace?.guestPath;
      const h = session.exec(cwd ? inDirectory(cwd, p.argv) : shellCommand(p.argv), { stdin: p.stdin ? ctx.stdin : undefined });
      // At the client's pace: a client that stops reading pauses the channel, and so the guest command.
      const sent = Promise.all([finished(h.stdout.pipe(ctx.output('stdout'))), finished(h.stderr.pipe(ctx.output('stderr')))]);
      sent.catch(() => {}); // awaited below; when exit rejects first it must not be left unhandled
      const onAbort = () => h.kill('KILL');
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      const release = vms.hold(rec.id); // [config: auto_stop] a running exec keeps the VM in use
      try {
        const r = await h.exit;
        await sent; // every output frame goes out before the result
        const signum = r.signal ? ((constants.signals as Record<string, number>)[r.signal] ?? 0) : 0;
        return { exitCode: r.code ?? (r.signal ? 128 + signum : 255), signal: r.signal ?? null };
      } finally {
        release();
        ctx.signal.removeEventListener('abort', onAbort);
      }
    },
    'vm.logs': (p) => {
      const rec = vms.lookup(p.name);
      return { path: deps.paths.vmFile(rec.id, 'serial') };
    },
    'vm.sshInfo': async (p) => {
      const v = vms.view(vms.lookup(p.name));
      vms.requireRunning(vms.lookup(p.name));
      vms.touch(v.id); // [config: auto_stop] `vm ssh` is a use
      return {
        name: v.name,
        host: v.ssh!.host,
        port: v.ssh!.port,
        user: 'root',
        keyPath: deps.keyPath(),
        knownHostsPath: deps.knownHostsPath(),
        hostKeyAlias: `${v.name}.vm`,
        cwd: v.workspace?.guestPath ?? null,
      };
    },
    'vm.stats': async () =>
      Promise.all(
        vms.list().map(async (v) => {
          // [config: stats_poll_interval] the daemon's latest sample, else one taken now
          const polled = v.pid ? deps.stats?.latest(v.id, v.pid) : null;
          const s = polled ? { cpuPercent: polled.cpuPercent, rssBytes: polled.rssBytes } : v.pid ? await sampleProcess(v.pid) : { cpuPercent: null, rssBytes: null };
          const used = await deps.disks.usedBytes(deps.paths.vmFile(v.id, 'disk'));
          return { name: v.name, state: v.state, ...s, diskUsedBytes: used, diskSizeBytes: v.diskSizeBytes };
        }),
      ),
  };
}

import { parseSize } from '../api/names.js';
const parseSizeStrict = (s: string) => parseSize(s)!;
