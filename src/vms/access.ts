/**
 * Using a running VM: the pooled guest session (vmLock held only to check the VM runs and copy
 * its fields), `vm exec`, `vm ssh`'s connection facts, `vm stats`, `vm ports`, the auto-stop bookkeeping and
 * the auto-stop itself (re-checked under the VM's lock).
 */
import { finished } from 'node:stream/promises';
import { exitCodeOf } from '../guest/exitstatus.js';
import { inDirectory, shellCommand } from '../guest/quote.js';
import { workspaceCommand } from './miseexec.js';
import type { ImageRuntimeConfig } from '../api/image.js';
import type { VmRecord } from '../store/vms.js';
import { aliasFor } from '../guest/knownhosts.js';
import { sampleProcess } from '../host/procstat.js';
import { answersHttp } from '../network/httpprobe.js';
import { hostEndpoint, mapBounded, parseSsListening, PROBE_CONCURRENCY, PROBE_MAX } from '../network/ports.js';
import type { VmContext, VmService } from './contracts.js';
import type { Machine } from './machine.js';
import { runtimeCommand } from './runtime.js';
import type { VmView } from './view.js';

type AccessVerbs = Pick<VmService, 'session' | 'exec' | 'sshInfo' | 'stats' | 'ports' | 'touch' | 'hold' | 'stopIfIdle'>;

export function createAccess(ctx: VmContext, vv: VmView, m: Machine): AccessVerbs {
  const { paths, store, locks, guest, log, activity } = ctx;

  const session: VmService['session'] = async (name, signal) => {
    const rec = vv.lookup(name);
    const { handles, fresh } = await locks.vm.with(rec.id, async () => {
      const h = vv.requireRunning(store.get(rec.id)!);
      activity.touch(rec.id); // [config: auto_stop] under the lock, so a pending auto-stop sees it
      return { handles: h, fresh: store.get(rec.id)! };
    });
    const s = await guest.open({ vmId: rec.id, alias: aliasFor(rec.name), host: handles.ssh.host, port: handles.ssh.port }, { timeoutMs: 20_000, signal });
    return { rec: fresh, session: s, handles };
  };

  /** The VM's image's runtime config, or null (none, or the image is no longer registered). */
  const runtimeOf = (rec: VmRecord): ImageRuntimeConfig | null => {
    try {
      return ctx.artifacts.pathsFor(rec.image, rec.kernel).image.runtime;
    } catch {
      return null;
    }
  };

  return {
    session,

    async exec(name, io) {
      const { rec, session: s } = await session(name, io.signal);
      const runtime = runtimeOf(rec);
      // An OCI image's Env, WorkingDir and User apply as `docker run` applies them; otherwise, in the
      // workspace (no -w), the repo's mise [env] and tools apply (miseexec.ts).
      const line = runtime
        ? runtimeCommand(io.argv, runtime, io.cwd ?? rec.workspace?.guestPath)
        : io.cwd !== undefined
          ? inDirectory(io.cwd, io.argv)
          : rec.workspace
            ? workspaceCommand(rec.workspace.guestPath, io.argv)
            : shellCommand(io.argv);
      const h = s.exec(line, { stdin: io.stdin });
      // At the client's pace: a client that stops reading pauses the channel, and so the guest command.
      const sent = Promise.all([finished(h.stdout.pipe(io.output('stdout'))), finished(h.stderr.pipe(io.output('stderr')))]);
      sent.catch(() => {}); // awaited below; when exit rejects first it must not be left unhandled
      const onAbort = () => h.kill('KILL');
      io.signal.addEventListener('abort', onAbort, { once: true });
      const release = activity.hold(rec.id); // [config: auto_stop] a running exec keeps the VM in use
      try {
        const r = await h.exit;
        await sent; // every output frame goes out before the result
        return { exitCode: exitCodeOf(r), signal: r.signal ?? null };
      } finally {
        release();
        io.signal.removeEventListener('abort', onAbort);
      }
    },

    sshInfo(name) {
      const rec = vv.lookup(name);
      const handles = vv.requireRunning(rec);
      activity.touch(rec.id); // [config: auto_stop] `vm ssh` is a use
      return {
        name: rec.name,
        host: handles.ssh.host,
        port: handles.ssh.port,
        user: 'root',
        keyPath: guest.keyPath(),
        knownHostsPath: guest.knownHostsPath(),
        hostKeyAlias: aliasFor(rec.name),
        cwd: rec.workspace?.guestPath ?? runtimeOf(rec)?.workingDir ?? null,
      };
    },

    stats: () =>
      Promise.all(
        vv.list().map(async (v) => {
          // [config: stats_poll_interval] the daemon's latest sample, else one taken now
          const polled = v.pid ? ctx.stats.latest(v.id, v.pid) : null;
          const s = polled ? { cpuPercent: polled.cpuPercent, rssBytes: polled.rssBytes } : v.pid ? await sampleProcess(v.pid) : { cpuPercent: null, rssBytes: null };
          const used = await ctx.driver.disks.usedBytes(paths.vmFile(v.id, 'disk'));
          return { name: v.name, state: v.state, ...s, diskUsedBytes: used, diskSizeBytes: v.diskSizeBytes };
        }),
      ),

    async ports(name, signal) {
      const { rec, session: s, handles } = await session(name, signal);
      const ss = await s.run(['ss', '-ltnpH'], { timeoutMs: 20_000, signal, check: true });
      const vm = {
        name: rec.name,
        mode: rec.network.mode,
        ip: rec.network.ip ?? null,
        sshHostPort: rec.network.mode === 'user' ? handles.ssh.port : null,
        forwards: handles.forwards,
      };
      // A bounded number of probes at a time, and of probes in all: a guest listing thousands of ports costs little.
      const ports = await mapBounded(parseSsListening(ss.stdout), PROBE_CONCURRENCY, async (lp, i) => {
        const ep = hostEndpoint(vm, lp);
        // Port 22 is sshd: probing it only adds a failed login to the guest's log.
        const http = ep && lp.port !== 22 && i < PROBE_MAX ? await answersHttp(ep.host, ep.port) : false;
        return { port: lp.port, process: lp.process, addresses: lp.addresses, endpoint: ep?.display ?? null, url: http ? `http://${ep!.display}/` : null };
      });
      return { name: rec.name, mode: rec.network.mode, ports };
    },

    touch: (id) => activity.touch(id),
    hold: (id) => activity.hold(id),

    async stopIfIdle(name, stillIdle, timeoutMs) {
      const rec = vv.lookup(name);
      return locks.vm.with(rec.id, async () => {
        const cur = store.get(rec.id);
        const l = cur ? vv.live(cur) : null;
        if (!cur || !l || l.state !== 'running' || !l.handles) return false;
        const s = await guest.open({ vmId: cur.id, alias: aliasFor(cur.name), ...l.handles.ssh }, { timeoutMs: 5000 }).catch(() => null);
        if (!(await stillIdle(cur, s))) return false;
        await m.halt(cur, timeoutMs, (stage, msg) => log.info({ vm: cur.name, stage, msg }, 'auto-stop'));
        return true;
      });
    },
  };
}
