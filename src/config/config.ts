/**
 * ~/.config/banger/config.toml: every key optional. Parsing is pure (text + host facts in,
 * config out) so defaults and errors are tested from tables.
 */
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { BangerError } from '../api/errors.js';
import { Name, Size, parseSize } from '../api/names.js';

export const ConfigFile = z
  .object({
    default_image_name: Name.optional(),
    hypervisor: z.enum(['auto', 'qemu', 'firecracker']).optional(),
    accel: z.enum(['auto', 'kvm', 'tcg']).optional(),
    ssh_key_path: z.string().optional(),
    catalog: z.string().optional(),
    jailer_enabled: z.boolean().optional(),
    jailer_bin: z.string().optional(),
    firecracker_bin: z.string().optional(),
    qemu_bin: z.string().optional(),
    network: z
      .object({
        /** Bridge for bridge-mode VMs (created on first use, removed when idle). */
        bridge: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'an interface name of 1-15 letters, digits, _ . -').optional(),
        /** Guest addresses for bridge mode; the first host address is the bridge (the guests' gateway). */
        cidr: z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'an IPv4 CIDR like 172.30.0.0/24').optional(),
        /** Where banger answers NAME.vm. */
        dns_address: z.ipv4().optional(),
        dns_port: z.number().int().min(1).max(65535).optional(),
        /** Resolver written into bridge-mode guests (default: the host's upstream resolver). */
        guest_dns: z.ipv4().optional(),
      })
      .strict()
      .optional(),
    vm_defaults: z
      .object({
        vcpu: z.number().int().min(1).max(64).optional(),
        memory_mib: z.number().int().min(128).optional(),
        disk_size: Size.optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type ConfigFile = z.infer<typeof ConfigFile>;

export interface Config {
  defaultImageName: string;
  defaultKernelName: string;
  hypervisor: 'auto' | 'qemu' | 'firecracker';
  accel: 'auto' | 'kvm' | 'tcg';
  sshKeyPath: string | null;
  catalog: string | null;
  jailer: { enabled: boolean; bin: string };
  firecrackerBin: string;
  qemuBin: string;
  network: { bridge: string; cidr: string; dnsAddress: string; dnsPort: number; guestDns: string | null };
  vmDefaults: { vcpu: number; memoryMib: number; diskSizeBytes: number };
}

export interface HostFacts {
  cores: number;
  memoryMib: number;
}

/** VM defaults derived from the host when unset: half the cores (1–4) and an eighth of the memory (512–2048 MiB). */
export function derivedDefaults(host: HostFacts): Config['vmDefaults'] {
  return {
    vcpu: Math.max(1, Math.min(4, Math.floor(host.cores / 2))),
    memoryMib: Math.max(512, Math.min(2048, Math.floor(host.memoryMib / 8 / 256) * 256)),
    diskSizeBytes: 8 * 1024 ** 3,
  };
}

export function parseConfig(text: string, file: string, host: HostFacts): Config {
  let raw: unknown;
  try {
    raw = text.trim() === '' ? {} : parseToml(text);
  } catch (err) {
    throw new BangerError('bad_request', `${file}: not valid TOML: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  const parsed = ConfigFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue.path.join('.') || (issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '(root)');
    const what = issue.code === 'unrecognized_keys' ? `unknown key ${issue.keys.join(', ')}` : `key ${key}: ${issue.message}`;
    throw new BangerError('bad_request', `${file}: ${what}; fix or remove it`, { details: { file, key } });
  }
  const c = parsed.data;
  const d = derivedDefaults(host);
  return {
    defaultImageName: c.default_image_name ?? 'debian-bookworm',
    defaultKernelName: 'debian-cloud',
    hypervisor: c.hypervisor ?? 'auto',
    accel: c.accel ?? 'auto',
    sshKeyPath: c.ssh_key_path ?? null,
    catalog: c.catalog ?? null,
    jailer: { enabled: c.jailer_enabled ?? false, bin: c.jailer_bin ?? 'jailer' },
    firecrackerBin: c.firecracker_bin ?? 'firecracker',
    qemuBin: c.qemu_bin ?? 'qemu-system-x86_64',
    network: {
      bridge: c.network?.bridge ?? 'br-banger',
      cidr: c.network?.cidr ?? '172.30.0.0/24',
      dnsAddress: c.network?.dns_address ?? '127.0.0.1',
      dnsPort: c.network?.dns_port ?? 42069,
      guestDns: c.network?.guest_dns ?? null,
    },
    vmDefaults: {
      vcpu: c.vm_defaults?.vcpu ?? d.vcpu,
      memoryMib: c.vm_defaults?.memory_mib ?? d.memoryMib,
      diskSizeBytes: c.vm_defaults?.disk_size ? parseSize(c.vm_defaults.disk_size)! : d.diskSizeBytes,
    },
  };
}
