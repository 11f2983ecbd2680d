/**
 * `banger doctor`'s host rows (architecture, Node, QEMU, KVM, Firecracker, tools, directories): facts
 * are gathered by I/O here, each verdict is a pure function of them so the table of outcomes is
 * unit-tested. It sits above hypervisor/ (whose version and KVM rules it reads), not in host/.
 */
import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs';
import { arch } from 'node:os';
import type { DoctorCheck } from '../api/daemon.js';
import { kvmUsability, probeHost, type HostAccelFacts } from '../hypervisor/accel.js';
import { checkFirecrackerVersion, MIN_VERSION, parseFirecrackerVersion, TESTED_RANGE } from '../hypervisor/firecracker/version.js';
import { atLeast, parseQemuVersion } from '../hypervisor/qemu/version.js';
import { run, which } from '../host/exec.js';
import { findTool } from '../host/tools.js';
import type { Paths } from '../store/paths.js';

type Check = DoctorCheck;

export interface DoctorFacts {
  arch: string;
  nodeVersion: string;
  qemuVersionOutput: string | null;
  kvm: HostAccelFacts;
  firecrackerVersionOutput: string | null;
  tools: Record<string, boolean>;
  busyboxStatic: boolean | null;
  dirsWritable: { ok: boolean; detail: string };
}

const APT = (pkg: string) => `apt-get install ${pkg}`;

export function evaluate(f: DoctorFacts): Check[] {
  const checks: Check[] = [];
  checks.push(
    f.arch === 'x64'
      ? { name: 'architecture', verdict: 'pass', detail: 'x86_64' }
      : { name: 'architecture', verdict: 'fail', detail: f.arch, fix: 'banger supports x86_64 hosts only' },
  );
  const nodeMajor = Number(f.nodeVersion.replace(/^v/, '').split('.')[0]);
  checks.push(
    nodeMajor >= 20
      ? { name: 'node', verdict: 'pass', detail: f.nodeVersion }
      : { name: 'node', verdict: 'fail', detail: f.nodeVersion, fix: 'install Node.js 20 or newer' },
  );
  if (f.qemuVersionOutput === null) {
    checks.push({ name: 'qemu', verdict: 'fail', detail: 'qemu-system-x86_64 not found', fix: APT('qemu-system-x86 qemu-utils') });
  } else {
    const v = parseQemuVersion(f.qemuVersionOutput);
    checks.push(
      atLeast(v, 6, 2)
        ? { name: 'qemu', verdict: 'pass', detail: v.version }
        : { name: 'qemu', verdict: 'warn', detail: v.version, fix: 'QEMU 6.2 or newer is tested (microvm with ACPI)' },
    );
  }
  const kvm = kvmUsability(f.kvm);
  checks.push(
    kvm.usable
      ? { name: 'kvm', verdict: 'pass', detail: kvm.reason }
      : { name: 'kvm', verdict: 'warn', detail: kvm.reason, fix: 'VMs run under TCG software emulation (slow but working); accel=auto chooses it' },
  );
  checks.push(firecrackerCheck(f.firecrackerVersionOutput, kvm.usable));
  const tool = (name: string, bins: string[], pkg: string, optional = false) => {
    const missing = bins.filter((b) => !f.tools[b]);
    checks.push(
      missing.length === 0
        ? { name, verdict: 'pass', detail: bins.join(', ') }
        : { name, verdict: optional ? 'warn' : 'fail', detail: `missing: ${missing.join(', ')}`, fix: APT(pkg) },
    );
  };
  tool('mmdebstrap', ['mmdebstrap'], 'mmdebstrap');
  tool('e2fsprogs', ['mkfs.ext4', 'debugfs'], 'e2fsprogs');
  tool('compression', ['lz4', 'zstd'], 'lz4 zstd');
  tool('ip/iptables', ['ip', 'iptables'], 'iproute2 iptables', true);
  checks.push(
    f.busyboxStatic === true
      ? { name: 'busybox-static', verdict: 'pass', detail: '/bin/busybox is static' }
      : {
          name: 'busybox-static',
          verdict: 'fail',
          detail: f.busyboxStatic === null ? '/bin/busybox not found' : '/bin/busybox is dynamically linked',
          fix: APT('busybox-static'),
        },
  );
  checks.push(
    f.dirsWritable.ok
      ? { name: 'dirs', verdict: 'pass', detail: f.dirsWritable.detail }
      : { name: 'dirs', verdict: 'fail', detail: f.dirsWritable.detail, fix: 'check the permissions of the XDG state/runtime directories' },
  );
  return checks;
}

const FIRECRACKER_INSTALL =
  `download a release (>= ${MIN_VERSION.major}.${MIN_VERSION.minor}) from https://github.com/firecracker-microvm/firecracker/releases, ` +
  'unpack it and put release-*/firecracker-*-x86_64 on PATH as `firecracker`';

/**
 * Firecracker is optional: QEMU runs everything. Once installed, `hypervisor = auto` picks it on a host
 * with usable KVM, so a release banger refuses is a failure there and only a warning elsewhere.
 */
export function firecrackerCheck(versionOutput: string | null, kvmUsable: boolean): Check {
  const name = 'firecracker';
  if (versionOutput === null) {
    return { name, verdict: 'warn', detail: 'not installed (optional; banger uses QEMU)', fix: `to use the Firecracker driver, ${FIRECRACKER_INSTALL}` };
  }
  const v = parseFirecrackerVersion(versionOutput);
  if (!v) {
    const first = versionOutput.trim().split('\n')[0] ?? '';
    return { name, verdict: 'warn', detail: `cannot read a version from \`firecracker --version\`: ${JSON.stringify(first.slice(0, 80))}`, fix: FIRECRACKER_INSTALL };
  }
  const verdict = checkFirecrackerVersion(v);
  const range = `tested ${TESTED_RANGE.from.major}.${TESTED_RANGE.from.minor} – ${TESTED_RANGE.to.major}.${TESTED_RANGE.to.minor}`;
  const unused = kvmUsable ? '' : '; unused here: it needs KVM';
  switch (verdict.level) {
    case 'ok':
      return { name, verdict: 'pass', detail: `${v.text} (${range})${unused}` };
    case 'warn':
      return { name, verdict: 'warn', detail: `${v.text} (${range})${unused}`, fix: verdict.messages.join('; ') };
    case 'error':
      return { name, verdict: kvmUsable ? 'fail' : 'warn', detail: `${v.text}: too old${unused}`, fix: `${verdict.messages.join('; ')}; to upgrade, ${FIRECRACKER_INSTALL}` };
  }
}

/** An ELF whose program headers have no PT_INTERP is statically linked. */
export function isStaticElf(buf: Buffer): boolean {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2) return false;
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const off = phoff + i * phentsize;
    if (off + 4 > buf.length) break;
    if (buf.readUInt32LE(off) === 3) return false; // PT_INTERP
  }
  return true;
}

export async function gatherFacts(paths: Paths): Promise<DoctorFacts> {
  const version = async (bin: string) => {
    if (!(await which(bin))) return null;
    const r = await run([bin, '--version'], { check: false, timeoutMs: 10_000 });
    return r.code === 0 ? r.stdout : null;
  };
  const bins = ['mmdebstrap', 'mkfs.ext4', 'debugfs', 'lz4', 'zstd', 'ip', 'iptables'];
  const tools: Record<string, boolean> = {};
  // findTool: mkfs.ext4/debugfs live in sbin, off a normal user's PATH, and banger finds them there.
  for (const b of bins) tools[b] = (await findTool(b)) !== null;
  let busyboxStatic: boolean | null = null;
  try {
    busyboxStatic = isStaticElf(readFileSync('/bin/busybox'));
  } catch {
    busyboxStatic = null;
  }
  let dirsWritable = { ok: true, detail: `${paths.stateDir}, ${paths.runtimeDir}` };
  try {
    for (const d of [paths.stateDir, paths.runtimeDir]) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
      accessSync(d, constants.W_OK);
    }
  } catch (err) {
    dirsWritable = { ok: false, detail: (err as Error).message };
  }
  return {
    arch: arch(),
    nodeVersion: process.version,
    qemuVersionOutput: await version('qemu-system-x86_64'),
    kvm: await probeHost(),
    firecrackerVersionOutput: await version('firecracker'),
    tools,
    busyboxStatic,
    dirsWritable,
  };
}
