/**
 * Which user-mode network a QEMU VM gets, and passt's argument vector. Pure: no I/O, table-tested.
 *
 * QEMU's built-in slirp maps its gateway (10.0.2.2) onto the host's 127.0.0.1, so a guest reaches
 * every loopback service of the host (other VMs' forwarded SSH included); its only switch is
 * `restrict=on`, which also cuts egress. passt (Debian's `passt`, QEMU `-netdev stream`) with
 * `--no-map-gw` does not map the gateway to the host, and still forwards DNS and egress:
 *
 * - egress off          → slirp `restrict=on` (cuts host and outside alike; forwards still work)
 * - host access asked   → slirp (the guest reaches the host's 127.0.0.1 through 10.0.2.2, on purpose)
 * - otherwise           → passt when installed; slirp only as a fallback, reported by `daemon status`
 *
 * passt keeps slirp's guest addressing (10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3) and its
 * gateway MAC, so guest configuration, snapshots and warm starts are the same on both.
 */
import { BangerError } from '../../api/errors.js';
import type { VmSpec } from '../driver.js';
import { USER_NET } from '../usernet.js';

export type UserNetBackend = 'passt' | 'slirp';
type UserNet = Extract<VmSpec['network'], { mode: 'user' }>;

/** slirp's fixed addresses, which the guest is configured with (hypervisor/usernet.ts USER_NET), and slirp's gateway MAC. */
export const USER_ADDR = { guest: USER_NET.ip, prefix: USER_NET.prefix, gateway: USER_NET.gateway, dns: USER_NET.dns, gatewayMac: '52:55:0a:00:02:02' } as const;

export function userNetBackend(net: Pick<UserNet, 'egress' | 'hostAccess'>, passtAvailable: boolean): UserNetBackend {
  if (!net.egress || net.hostAccess) return 'slirp';
  return passtAvailable ? 'passt' : 'slirp';
}

/** One line for `daemon status`: what a default user-mode guest can reach on this host. */
export function userNetSummary(passtAvailable: boolean): { isolated: boolean; reason: string } {
  return passtAvailable
    ? { isolated: true, reason: "passt: guests reach DNS and the outside but not the host's 127.0.0.1 (vm create --host-access opts in)" }
    : {
        isolated: false,
        reason: "passt is not installed: user-mode guests use QEMU's slirp and can reach every service on the host's 127.0.0.1 through 10.0.2.2; install it (apt-get install passt) and restart the daemon",
      };
}

function port(p: number, what: string): number {
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new BangerError('bad_request', `${what} ${p} is not a port number (1-65535)`);
  return p;
}

const nameservers = (text: string) => [...text.matchAll(/^\s*nameserver\s+(\d{1,3}(?:\.\d{1,3}){3})\s*$/gm)].map((m) => m[1]);
const loopback = (ip: string) => ip.startsWith('127.');

/**
 * The resolver passt should forward the guest's queries to, when passt cannot find it alone: passt
 * reads /etc/resolv.conf itself but skips loopback servers under `--no-map-gw`, which leaves a
 * systemd-resolved host (only 127.0.0.53) with no DNS. Then: resolved's upstream, else the loopback
 * stub itself. Null: /etc/resolv.conf names a usable server and passt takes it from there. Pure.
 */
export function passtResolver(etcResolvConf: string, resolvedUpstream: string): string | null {
  const own = nameservers(etcResolvConf);
  if (own.some((ip) => !loopback(ip))) return null;
  return nameservers(resolvedUpstream).find((ip) => !loopback(ip)) ?? own[0] ?? null;
}

/** The argument naming a VM's passt in its argv (its SSH forward: unique among running VMs). */
export const passtMarker = (sshHostPort: number) => `127.0.0.1/${sshHostPort}:22`;

/**
 * passt's argv (without the binary): foreground (the driver keeps its pid), talking to QEMU over
 * the inherited socket `fd` (it exits when QEMU's end closes: stop, kill or crash), IPv4 only, no
 * gateway → host mapping, DNS queries to 10.0.2.3 forwarded to the host's resolver, and each
 * forward bound to 127.0.0.1 only. (`--one-off` with a listening socket quits early in Debian 12's
 * passt, so no socket path is used.)
 */
export function buildPasstArgs(net: Pick<UserNet, 'sshHostPort' | 'forwards'>, fd: number, resolver: string | null = null): string[] {
  const tcp = [
    passtMarker(port(net.sshHostPort, 'host port')),
    ...net.forwards.map((f) => `127.0.0.1/${port(f.hostPort, 'host port')}:${port(f.guestPort, 'guest port')}`),
  ];
  return [
    '--foreground',
    '--quiet',
    '--fd',
    String(fd),
    '--ipv4-only',
    '--no-map-gw',
    '--address',
    USER_ADDR.guest,
    '--netmask',
    String(USER_ADDR.prefix),
    '--gateway',
    USER_ADDR.gateway,
    '--mac-addr',
    USER_ADDR.gatewayMac,
    // --dns names where forwarded queries go (never 10.0.2.3 itself: passt would send them there).
    ...(resolver ? ['--dns', resolver] : []),
    '--dns-forward',
    USER_ADDR.dns,
    ...tcp.flatMap((t) => ['--tcp-ports', t]),
  ];
}
