/**
 * ~/.config/banger/config.toml: every key optional. Parsing is pure (text + host facts in,
 * config out) so defaults, errors and warnings are tested from tables.
 *
 * The original tool's flat keys are read as written (`bridge_name`, `cidr`, `bridge_ip`,
 * `default_dns`, `jailer_*`, `auto_stop_stale_after`, `[[file_sync]]`, ...); banger's own
 * `[network]` table still works, and naming one setting both ways with different values is an
 * error. An unknown key is a warning (the daemon logs it, `daemon status` and `doctor` show it),
 * never a refusal; a bad value is an error naming the key and the file.
 *
 * What the less obvious keys mean here:
 * - `stats_poll_interval` (default 5s): how often the daemon samples each running VM's hypervisor
 *   process (CPU over the interval, RSS). `vm stats` reports the latest sample.
 * - `auto_stop_stale_after` (default "0" = off): a running VM with no exec/ssh/workspace activity
 *   (and no start) for that long is stopped gracefully, never deleted (vms/autostop.ts).
 * - `system_overlay_size` and `tap_pool_size`: parsed and validated, but not honoured yet (a
 *   warning says so). A VM here has one disk, a qcow2 overlay over the image sized by
 *   `disk_size`, so there is no separate system overlay to size; a tap pool needs the root helper.
 * - `catalog`: a URL or a path; a relative path is relative to config.toml's directory.
 * - `image_import_max_size` (default 64G): the largest rootfs tar `image import` reads.
 * - `jailer_enabled` (default true): the jailer is used only where it can run (as root for now).
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { AccelSetting, HypervisorSetting } from '../api/enums.js';
import { BangerError } from '../api/errors.js';
import { DEFAULT_IMPORT_MAX_BYTES } from '../api/image.js';
import { MAX_SIZE_BYTES, MemoryMib, Name, parseSize, sizeProblem } from '../api/names.js';
import { intToIp, ipToInt, parseCidr } from '../network/ipalloc.js';
import { Duration } from './duration.js';
import { FileSyncEntry, FileSyncEntryFile, planFileSync } from './filesync.js';

export { MAX_SIZE_BYTES };

/** A size key: bounded (api/names.ts MIN/MAX_SIZE_BYTES), so it is always a safe integer; the error names the range. */
const BoundedSize = z.string().transform((s, ctx) => {
  const problem = sizeProblem(s);
  if (problem) {
    ctx.addIssue({ code: 'custom', message: problem });
    return z.NEVER;
  }
  return parseSize(s)!;
});

const BridgeName = z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'an interface name of 1-15 letters, digits, _ . -');
const Cidr = z.string().refine(
  (s) => {
    try {
      parseCidr(s);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'an IPv4 CIDR like 172.30.0.0/24 (prefix /16 to /29, no host bits)' },
);
/** A path key: absolute, or `~/…` (expanded against the host user's home in parseConfig). */
const PathKey = z.string().regex(/^(\/|~\/)/, 'an absolute path or ~/…');
/** A binary: a name looked up on PATH, an absolute path, or `~/…`. */
const BinKey = z.string().regex(/^(\/|~\/|[^~/][^/]*$)/, 'a command name, an absolute path or ~/…');

export const LogLevel = z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);
export type LogLevel = z.infer<typeof LogLevel>;

export const ConfigFile = z.object({
  log_level: LogLevel.optional(),
  default_image_name: Name.optional(),
  hypervisor: HypervisorSetting.optional(),
  accel: AccelSetting.optional(),
  ssh_key_path: PathKey.optional(),
  /** A path (relative: to this file's directory) or an http(s)/file URL. */
  catalog: z.string().min(1).optional(),
  /** The largest rootfs tar `image import` reads (a size like 64G). */
  image_import_max_size: BoundedSize.optional(),
  jailer_enabled: z.boolean().optional(),
  jailer_bin: BinKey.optional(),
  jailer_chroot_base: PathKey.optional(),
  firecracker_bin: BinKey.optional(),
  qemu_bin: BinKey.optional(),
  auto_stop_stale_after: Duration.optional(),
  stats_poll_interval: Duration.refine((ms) => ms >= 1000, 'at least 1s').optional(),
  tap_pool_size: z.number().int().min(0).max(256).optional(),
  /** The original's flat network keys. */
  bridge_name: BridgeName.optional(),
  bridge_ip: z.ipv4().optional(),
  cidr: Cidr.optional(),
  default_dns: z.ipv4().optional(),
  network: z
    .object({
      /** Bridge for bridge-mode VMs (created on first use, removed when idle). */
      bridge: BridgeName.optional(),
      /** Guest addresses for bridge mode; the bridge (the guests' gateway) is `bridge_ip`, by default the first host address. */
      cidr: Cidr.optional(),
      /** Where banger answers NAME.vm. */
      dns_address: z.ipv4().optional(),
      dns_port: z.number().int().min(1).max(65535).optional(),
      /** Resolver written into bridge-mode guests (default: the host's upstream resolver). */
      guest_dns: z.ipv4().optional(),
    })
    .optional(),
  vm_defaults: z
    .object({
      vcpu: z.number().int().min(1).max(64).optional(),
      memory_mib: MemoryMib.optional(),
      disk_size: BoundedSize.optional(),
      system_overlay_size: BoundedSize.optional(),
    })
    .optional(),
  file_sync: z.array(FileSyncEntryFile).optional(),
  http: z
    .object({
      /** The loopback HTTP listener (E2B endpoint, web UI); 0 or unset: a free port, remembered across restarts. */
      port: z.number().int().min(0).max(65535).optional(),
    })
    .optional(),
  e2b: z
    .object({
      /** Start the loopback listener (with the E2B-compatible endpoint) when the daemon starts. */
      enabled: z.boolean().optional(),
    })
    .optional(),
});
export type ConfigFile = z.infer<typeof ConfigFile>;

/** The resolved configuration the daemon and its services get (parseConfig's result); its type comes from this schema. */
export const Config = z.object({
  /** From `log_level`; null: BANGER_LOG_LEVEL or info. */
  logLevel: LogLevel.nullable(),
  defaultImageName: z.string(),
  defaultKernelName: z.string(),
  hypervisor: HypervisorSetting,
  accel: AccelSetting,
  sshKeyPath: z.string().nullable(),
  /** A URL or an absolute path (a relative path in the file is resolved against the file's directory). */
  catalog: z.string().nullable(),
  /** From `image_import_max_size`: the largest rootfs tar `image import` reads. */
  imageImportMaxBytes: z.number().int().positive(),
  /** What the config asks for; whether the jailer really runs is decided where the driver is made. */
  jailer: z.object({ enabled: z.boolean(), bin: z.string(), chrootBaseDir: z.string() }),
  firecrackerBin: z.string(),
  qemuBin: z.string(),
  /** 0: off. */
  autoStopStaleAfterMs: z.number(),
  statsPollIntervalMs: z.number(),
  /** Parsed, not honoured yet (needs the root helper). */
  tapPoolSize: z.number().int(),
  network: z.object({
    bridge: z.string(),
    cidr: z.string(),
    bridgeIp: z.string(),
    dnsAddress: z.string(),
    dnsPort: z.number().int(),
    guestDns: z.string().nullable(),
  }),
  /** systemOverlaySizeBytes: parsed, not honoured yet (null when unset). */
  vmDefaults: z.object({
    vcpu: z.number().int(),
    memoryMib: z.number().int(),
    diskSizeBytes: z.number().int(),
    systemOverlaySizeBytes: z.number().int().nullable(),
  }),
  fileSync: z.array(FileSyncEntry),
  /** [http]: port 0 = a free one, remembered (daemon/http.ts). */
  http: z.object({ port: z.number().int() }),
  /** [e2b]: enabled = listen at daemon start (else on first `banger serve`). */
  e2b: z.object({ enabled: z.boolean() }),
  /** Keys that were ignored or are not honoured yet, for people to see (log, daemon status, doctor). */
  warnings: z.array(z.string()),
});
export type Config = z.infer<typeof Config>;

export interface HostFacts {
  cores: number;
  memoryMib: number;
  /** The host user's home (`~` in file_sync). */
  home: string;
  /** Default jailer chroot base (store/paths.ts: under the state dir, on the images' file system). */
  jailerChrootBase: string;
}

/** VM defaults derived from the host when unset: half the cores (1–4) and an eighth of the memory (512–2048 MiB). */
export function derivedDefaults(host: Pick<HostFacts, 'cores' | 'memoryMib'>): Config['vmDefaults'] {
  return {
    vcpu: Math.max(1, Math.min(4, Math.floor(host.cores / 2))),
    memoryMib: Math.max(512, Math.min(2048, Math.floor(host.memoryMib / 8 / 256) * 256)),
    diskSizeBytes: 8 * 1024 ** 3,
    systemOverlaySizeBytes: null,
  };
}

export const DEFAULT_STATS_POLL_MS = 5000;

/** Dotted paths of keys the schema does not know (`colour`, `network.nope`, `file_sync[1].owner`). */
export function unknownKeys(schema: z.ZodType, value: unknown, path = ''): string[] {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
  const at = (k: string) => (path ? `${path}.${k}` : k);
  if (s instanceof z.ZodObject && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const shape = s.shape as Record<string, z.ZodType>;
    return Object.entries(value).flatMap(([k, v]) => (k in shape ? unknownKeys(shape[k], v, at(k)) : [at(k)]));
  }
  if (s instanceof z.ZodArray && Array.isArray(value)) return value.flatMap((v, i) => unknownKeys(s.element as z.ZodType, v, `${path}[${i}]`));
  return [];
}

/** One setting written both ways (flat original key and [network] key) must agree. */
function pick<T>(file: string, a: [string, T | undefined], b: [string, T | undefined]): T | undefined {
  if (a[1] !== undefined && b[1] !== undefined && a[1] !== b[1]) {
    throw new BangerError('bad_request', `${file}: ${a[0]} = ${JSON.stringify(a[1])} and ${b[0]} = ${JSON.stringify(b[1])} disagree; keep one of them`, {
      details: { file, key: a[0] },
    });
  }
  return a[1] ?? b[1];
}

/**
 * A relative path written in the config file means relative to the file, not to wherever the
 * daemon happened to be started; URLs and absolute paths stay as written.
 */
export function relativeToFile(value: string, file: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || isAbsolute(value)) return value;
  return resolve(dirname(file), value);
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
    const key = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || '(root)';
    throw new BangerError('bad_request', `${file}: key ${key}: ${issue.message}; fix or remove it`, { details: { file, key } });
  }
  const c = parsed.data;
  const warnings = unknownKeys(ConfigFile, raw).map((k) => `${file}: unknown key ${k} is ignored`);
  const later = (key: string, why: string) => warnings.push(`${file}: ${key} is not supported yet (${why}); it is ignored`);
  if (c.tap_pool_size) later('tap_pool_size', 'taps are created per VM at start');
  if (c.vm_defaults?.system_overlay_size !== undefined) later('vm_defaults.system_overlay_size', 'a VM has one disk, sized by vm_defaults.disk_size');

  const cidr = pick(file, ['cidr', c.cidr], ['network.cidr', c.network?.cidr]) ?? '172.30.0.0/24';
  const subnet = parseCidr(cidr);
  let bridgeIp = subnet.gateway;
  if (c.bridge_ip !== undefined) {
    const off = ipToInt(c.bridge_ip) - subnet.network;
    if (off < 1 || off > subnet.guestCount + 1) {
      throw new BangerError('bad_request', `${file}: key bridge_ip: ${c.bridge_ip} is not a host address of cidr ${cidr}; pick one inside it (e.g. ${intToIp(subnet.network + 1)})`, {
        details: { file, key: 'bridge_ip' },
      });
    }
    bridgeIp = c.bridge_ip;
  }

  let fileSync: FileSyncEntry[];
  try {
    fileSync = planFileSync(c.file_sync ?? [], host.home);
  } catch (err) {
    throw new BangerError('bad_request', `${file}: ${(err as Error).message}; fix or remove the entry`, { details: { file, key: 'file_sync' } });
  }

  const d = derivedDefaults(host);
  const home = <T extends string | undefined>(p: T): T => (p?.startsWith('~/') ? `${host.home}${p.slice(1)}` : p) as T;
  return {
    logLevel: c.log_level ?? null,
    defaultImageName: c.default_image_name ?? 'debian-bookworm',
    defaultKernelName: 'debian-cloud',
    hypervisor: c.hypervisor ?? 'auto',
    accel: c.accel ?? 'auto',
    sshKeyPath: home(c.ssh_key_path) ?? null,
    catalog: c.catalog === undefined ? null : relativeToFile(home(c.catalog), file),
    imageImportMaxBytes: c.image_import_max_size ?? DEFAULT_IMPORT_MAX_BYTES,
    jailer: { enabled: c.jailer_enabled ?? true, bin: home(c.jailer_bin) ?? '/usr/bin/jailer', chrootBaseDir: home(c.jailer_chroot_base) ?? host.jailerChrootBase },
    firecrackerBin: home(c.firecracker_bin) ?? 'firecracker',
    qemuBin: home(c.qemu_bin) ?? 'qemu-system-x86_64',
    autoStopStaleAfterMs: c.auto_stop_stale_after ?? 0,
    statsPollIntervalMs: c.stats_poll_interval ?? DEFAULT_STATS_POLL_MS,
    tapPoolSize: c.tap_pool_size ?? 0,
    network: {
      bridge: pick(file, ['bridge_name', c.bridge_name], ['network.bridge', c.network?.bridge]) ?? 'br-banger',
      cidr,
      bridgeIp,
      dnsAddress: c.network?.dns_address ?? '127.0.0.1',
      dnsPort: c.network?.dns_port ?? 42069,
      guestDns: pick(file, ['default_dns', c.default_dns], ['network.guest_dns', c.network?.guest_dns]) ?? null,
    },
    vmDefaults: {
      vcpu: c.vm_defaults?.vcpu ?? d.vcpu,
      memoryMib: c.vm_defaults?.memory_mib ?? d.memoryMib,
      diskSizeBytes: c.vm_defaults?.disk_size ?? d.diskSizeBytes,
      systemOverlaySizeBytes: c.vm_defaults?.system_overlay_size ?? null,
    },
    fileSync,
    http: { port: c.http?.port ?? 0 },
    e2b: { enabled: c.e2b?.enabled ?? false },
    warnings,
  };
}
