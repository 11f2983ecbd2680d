/**
 * The network API: banger's `.vm` DNS, its ssh_config, a guest's listening ports and user-mode
 * port forwards. Every schema is strict.
 */
import { z } from 'zod';
import { Empty } from './daemon.js';
import { NetworkMode } from './enums.js';
import { VmRef } from './vm.js';

const Port = z.number().int().min(1).max(65535);

export const DnsRecord = z.object({ name: z.string(), address: z.string() }).strict();

export const DnsStatus = z
  .object({
    /** Whether banger's DNS server is bound. */
    listening: z.boolean(),
    host: z.string(),
    port: Port,
    /** Why it is not listening (e.g. the port is taken). */
    error: z.string().nullable(),
    /** `<name>.vm` A records served now (running VMs). */
    records: z.array(DnsRecord),
    resolved: z
      .object({
        /** systemd-resolved is the host's resolver. */
        active: z.boolean(),
        /** banger's drop-in exists. */
        installed: z.boolean(),
        /** ...and routes `vm` to this daemon's address. */
        current: z.boolean(),
        path: z.string(),
      })
      .strict(),
  })
  .strict();
export type DnsStatus = z.infer<typeof DnsStatus>;

export const DnsInstallResult = z.object({ path: z.string(), changed: z.boolean() }).strict();

export const SshConfigResult = z
  .object({
    /** banger's generated ssh_config (what `banger ssh-config --install` includes). */
    path: z.string(),
    text: z.string(),
  })
  .strict();

export const GuestPort = z
  .object({
    port: Port,
    /** The listening process, when `ss -p` could tell. */
    process: z.string().nullable(),
    addresses: z.array(z.string()),
    /** Where the host reaches it: `NAME.vm:PORT` (bridge) or `127.0.0.1:HOSTPORT` (user mode, when forwarded); null when nothing does. */
    endpoint: z.string().nullable(),
    /** `http://ENDPOINT/` when an HTTP server answered there. */
    url: z.string().nullable(),
  })
  .strict();

export const VmPorts = z.object({ name: z.string(), mode: NetworkMode, ports: z.array(GuestPort) }).strict();
export type VmPorts = z.infer<typeof VmPorts>;

export const VmForwardParams = VmRef.extend({
  guestPort: Port,
  /** Default: a free port picked on 127.0.0.1. */
  hostPort: Port.optional(),
}).strict();

export const VmUnforwardParams = VmRef.extend({ guestPort: Port }).strict();

export const PortForward = z
  .object({
    guestPort: Port,
    /** null until the VM starts (a forward recorded on a stopped VM gets its port at start). */
    hostPort: Port.nullable(),
    /** Active now (the VM runs and QEMU forwards it). */
    active: z.boolean(),
  })
  .strict();

export const VmForwardsResult = z.object({ name: z.string(), forwards: z.array(PortForward) }).strict();
export type VmForwardsResult = z.infer<typeof VmForwardsResult>;

export const networkMethods = {
  'dns.status': { params: Empty, result: DnsStatus },
  'dns.install': { params: Empty, result: DnsInstallResult },
  'dns.uninstall': { params: Empty, result: DnsInstallResult },
  'sshConfig.show': { params: Empty, result: SshConfigResult },
  'vm.ports': { params: VmRef, result: VmPorts },
  'vm.forward': { params: VmForwardParams, result: VmForwardsResult },
  'vm.unforward': { params: VmUnforwardParams, result: VmForwardsResult },
  'vm.forwards': { params: VmRef, result: VmForwardsResult },
} as const;
