/** dns.*, sshConfig.show, vm.ports, vm.forward(s)/unforward: adapt the wire to network/; no logic of their own. */
import { readFile } from 'node:fs/promises';
import type { DoctorCheck } from '../api/daemon.js';
import type { Config } from '../config/config.js';
import type { DnsServer } from '../network/dns.js';
import type { Forwarding } from '../network/forwards.js';
import { answersHttp } from '../network/httpprobe.js';
import { hostEndpoint, mapBounded, parseSsListening, PROBE_CONCURRENCY, PROBE_MAX } from '../network/ports.js';
import type { ResolverWiring } from '../network/privilege.js';
import { installResolved, readState, resolvedCheck, uninstallResolved, type ResolvedHost } from '../network/resolved.js';
import type { VmService } from '../vms/service.js';
import type { Handlers } from './dispatch.js';

type NetworkHandlers = Pick<
  Handlers,
  'dns.status' | 'dns.install' | 'dns.uninstall' | 'sshConfig.show' | 'vm.ports' | 'vm.forward' | 'vm.unforward' | 'vm.forwards'
>;

export interface NetworkHandlerDeps {
  vms: VmService;
  forwarding: Forwarding;
  config: Config;
  /** The running DNS server, or null with the reason it is not. */
  dns: { server: DnsServer | null; error: string | null };
  resolved: ResolvedHost;
  /** Who writes resolved's drop-in (bangerd-root for a non-root daemon). @default in this process */
  resolver?: ResolverWiring;
  sshConfigPath: string;
}

const dnsAt = (d: NetworkHandlerDeps) => ({ host: d.config.network.dnsAddress, port: d.dns.server?.address().port ?? d.config.network.dnsPort });

export function networkHandlers(d: NetworkHandlerDeps): NetworkHandlers {
  return {
    'dns.status': async () => {
      const at = dnsAt(d);
      return {
        listening: d.dns.server !== null,
        host: at.host,
        port: at.port,
        error: d.dns.error,
        records: [...(d.dns.server?.records() ?? new Map<string, string>())].sort().map(([name, address]) => ({ name: `${name}.vm`, address })),
        resolved: await readState(d.resolved, at),
      };
    },
    'dns.install': () => (d.resolver ? d.resolver.install(dnsAt(d)) : installResolved(d.resolved, dnsAt(d))),
    'dns.uninstall': () => (d.resolver ? d.resolver.uninstall() : uninstallResolved(d.resolved)),
    'sshConfig.show': async () => {
      await d.vms.publish(); // the file reflects this moment
      return { path: d.sshConfigPath, text: await readFile(d.sshConfigPath, 'utf8').catch(() => '') };
    },
    'vm.ports': async (p, ctx) => {
      const { rec, session, handles } = await d.vms.session(p.name, ctx.signal);
      const ss = await session.run(['ss', '-ltnpH'], { timeoutMs: 20_000, signal: ctx.signal, check: true });
      const vm = {
        name: rec.name,
        mode: rec.network.mode,
        ip: rec.network.ip ?? null,
        sshHostPort: rec.network.mode === 'user' ? handles.ssh.port : null,
        forwards: handles.forwards,
      };
      const ports = await mapBounded(parseSsListening(ss.stdout), PROBE_CONCURRENCY, async (lp, i) => {
        const ep = hostEndpoint(vm, lp);
        // Port 22 is sshd: probing it only adds a failed login to the guest's log.
        const http = ep && lp.port !== 22 && i < PROBE_MAX ? await answersHttp(ep.host, ep.port) : false;
        return { port: lp.port, process: lp.process, addresses: lp.addresses, endpoint: ep?.display ?? null, url: http ? `http://${ep!.display}/` : null };
      });
      return { name: rec.name, mode: rec.network.mode, ports };
    },
    'vm.forward': (p) => d.forwarding.add(p.name, p.guestPort, p.hostPort),
    'vm.unforward': (p) => d.forwarding.remove(p.name, p.guestPort),
    'vm.forwards': (p) => d.forwarding.list(p.name),
  };
}

/** The doctor line for what a user-mode guest reaches on the host (passt installed or not). */
export function userNetDoctorCheck(u: { blocked: boolean; reason: string }): DoctorCheck {
  return u.blocked
    ? { name: 'guest host access', verdict: 'pass', detail: u.reason }
    : { name: 'guest host access', verdict: 'warn', detail: u.reason, fix: 'apt-get install passt, then restart bangerd' };
}

/** The doctor line for `.vm` name resolution (systemd-resolved routing). */
export async function networkDoctor(d: Pick<NetworkHandlerDeps, 'config' | 'dns' | 'resolved'> & { bridge?: () => Promise<DoctorCheck> }): Promise<DoctorCheck[]> {
  const at = dnsAt(d as NetworkHandlerDeps);
  const checks: DoctorCheck[] = [resolvedCheck(await readState(d.resolved, at), at)];
  if (d.bridge) checks.push(await d.bridge());
  if (!d.dns.server) {
    checks.push({
      name: 'vm dns server',
      verdict: 'warn',
      detail: `not listening on ${at.host}:${at.port}: ${d.dns.error ?? 'not started'}`,
      fix: 'free the port or set [network] dns_port in config.toml, then restart bangerd',
    });
  }
  return checks;
}
