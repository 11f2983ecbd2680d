/** dns.*, sshConfig.show, vm.ports, vm.forward(s)/unforward: adapt the wire to network/; no logic of their own. */
import { readFile } from 'node:fs/promises';
import type { DoctorCheck } from '../api/daemon.js';
import { vmHostName } from '../api/names.js';
import type { Config } from '../config/config.js';
import type { DnsServer } from '../network/dns.js';
import type { Forwarding } from '../network/forwards.js';
import type { ResolverWiring } from '../network/privilege.js';
import { readState, resolvedCheck, type ResolvedHost } from '../network/resolved.js';
import type { VmService } from '../vms/contracts.js';
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
  /** Who writes resolved's drop-in: this process, or bangerd-root for a non-root daemon (network/privilege.ts). */
  resolver: ResolverWiring;
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
        records: [...(d.dns.server?.records() ?? new Map<string, string>())].sort().map(([name, address]) => ({ name: vmHostName(name), address })),
        resolved: await readState(d.resolved, at),
      };
    },
    'dns.install': () => d.resolver.install(dnsAt(d)),
    'dns.uninstall': () => d.resolver.uninstall(),
    'sshConfig.show': async () => {
      await d.vms.publish(); // the file reflects this moment
      return { path: d.sshConfigPath, text: await readFile(d.sshConfigPath, 'utf8').catch(() => '') };
    },
    'vm.ports': (p, ctx) => d.vms.ports(p.name, ctx.signal),
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
