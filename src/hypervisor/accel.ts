/**
 * Which accelerator a VM runs under. `decideAccel` is pure (table-tested); `probeHost` gathers the
 * facts it needs from /dev/kvm, /sys/module and /proc/cpuinfo.
 *
 * Why not just "does /dev/kvm exist": some hosts expose /dev/kvm from `kvm_pvm` (a paravirtual KVM
 * for nested clouds) on a CPU without vmx/svm. A stock guest kernel hangs there under `-accel kvm`
 * without printing a byte, so we only call KVM usable when the CPU flag and its matching module agree.
 */
import { access, constants, readFile, readdir, stat } from 'node:fs/promises';
import { BangerError } from '../api/errors.js';
import type { Accel, AccelSetting } from '../api/enums.js';

export type AccelRequest = AccelSetting;

/** What the host tells us about KVM. */
export interface HostAccelFacts {
  /** /dev/kvm exists and is a character device. */
  kvmDevice: boolean;
  /** We may open /dev/kvm read-write. Treated as true when omitted. */
  kvmAccessible?: boolean;
  /** Loaded kernel modules whose names start with `kvm` (empty when unknown). */
  kvmModules: string[];
  /** The CPU flags of the first processor in /proc/cpuinfo. */
  cpuFlags: string[];
}

export interface KvmUsability {
  usable: boolean;
  /** One sentence a person can act on. */
  reason: string;
}

export interface AccelDecision {
  accel: Accel;
  reason: string;
}

/** Is KVM usable for a stock guest kernel on a host with these facts? */
export function kvmUsability(facts: HostAccelFacts): KvmUsability {
  if (!facts.kvmDevice) {
    return { usable: false, reason: '/dev/kvm is missing (no hardware virtualisation, or the kvm module is not loaded)' };
  }
  if (facts.kvmAccessible === false) {
    return { usable: false, reason: '/dev/kvm is not accessible to this user (add the user to the kvm group)' };
  }
  const flags = new Set(facts.cpuFlags);
  const modules = new Set(facts.kvmModules);
  const vendors = [
    { flag: 'vmx', module: 'kvm_intel' },
    { flag: 'svm', module: 'kvm_amd' },
  ];
  // Module list unknown (e.g. KVM built in and /sys/module unreadable): trust the CPU flag alone.
  const modulesKnown = modules.size > 0;
  for (const v of vendors) {
    if (flags.has(v.flag) && (!modulesKnown || modules.has(v.module))) {
      return { usable: true, reason: `KVM is usable (${v.flag} CPU flag${modulesKnown ? `, ${v.module} loaded` : ''})` };
    }
  }
  const hasFlag = vendors.find((v) => flags.has(v.flag));
  if (modules.has('kvm_pvm')) {
    return {
      usable: false,
      reason: `/dev/kvm is provided by kvm_pvm${hasFlag ? '' : ' and the CPU has no vmx/svm flag'}; a stock guest kernel hangs under it`,
    };
  }
  if (!hasFlag) return { usable: false, reason: 'the CPU has no vmx/svm flag (hardware virtualisation is off or not passed through)' };
  return {
    usable: false,
    reason: `the CPU has the ${hasFlag.flag} flag but ${hasFlag.module} is not loaded (loaded: ${[...modules].sort().join(', ')})`,
  };
}

/** Chooses the accelerator. `kvm` requested on a host where it cannot work is an error, never a hang. */
export function decideAccel(input: { requested: AccelRequest } & HostAccelFacts): AccelDecision {
  const kvm = kvmUsability(input);
  switch (input.requested) {
    case 'tcg':
      return { accel: 'tcg', reason: 'accel=tcg requested (software emulation)' };
    case 'kvm':
      if (kvm.usable) return { accel: 'kvm', reason: `accel=kvm requested; ${kvm.reason}` };
      throw new BangerError('unavailable', `accel=kvm was requested but KVM is not usable here: ${kvm.reason}. Set accel to "auto" or "tcg".`, {
        details: { reason: kvm.reason },
      });
    case 'auto':
      return kvm.usable
        ? { accel: 'kvm', reason: kvm.reason }
        : { accel: 'tcg', reason: `using TCG (software emulation, slower): ${kvm.reason}` };
  }
}

/** Reads the KVM-related facts of this host. Never throws: unknown facts come back empty/false. */
export async function probeHost(paths: { kvm?: string; sysModule?: string; procModules?: string; cpuinfo?: string } = {}): Promise<HostAccelFacts> {
  const kvmPath = paths.kvm ?? '/dev/kvm';
  const kvmDevice = await stat(kvmPath).then(
    (s) => s.isCharacterDevice(),
    () => false,
  );
  const kvmAccessible = kvmDevice
    ? await access(kvmPath, constants.R_OK | constants.W_OK).then(
        () => true,
        () => false,
      )
    : false;
  return { kvmDevice, kvmAccessible, kvmModules: await kvmModules(paths), cpuFlags: await cpuFlags(paths.cpuinfo ?? '/proc/cpuinfo') };
}

async function kvmModules(paths: { sysModule?: string; procModules?: string }): Promise<string[]> {
  // /sys/module lists loaded modules and built-ins with parameters; /proc/modules is absent in some containers.
  const fromSys = await readdir(paths.sysModule ?? '/sys/module').catch(() => [] as string[]);
  const names = fromSys.length > 0 ? fromSys : await readFile(paths.procModules ?? '/proc/modules', 'utf8').then(parseProcModules, () => []);
  return names.filter((n) => n === 'kvm' || n.startsWith('kvm_')).sort();
}

/** Module names from /proc/modules text. */
export function parseProcModules(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.split(' ')[0])
    .filter((name): name is string => !!name);
}

async function cpuFlags(path: string): Promise<string[]> {
  return readFile(path, 'utf8').then(parseCpuFlags, () => []);
}

/** The flags of the first processor in /proc/cpuinfo text. */
export function parseCpuFlags(cpuinfo: string): string[] {
  const line = cpuinfo.split('\n').find((l) => /^flags\s*:/.test(l));
  return line ? line.replace(/^flags\s*:/, '').trim().split(/\s+/).filter(Boolean) : [];
}

/** Probes the host and decides in one call. */
export async function detectAccel(requested: AccelRequest, facts?: HostAccelFacts): Promise<AccelDecision> {
  return decideAccel({ requested, ...(facts ?? (await probeHost())) });
}
