import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluate, firecrackerCheck, isStaticElf, type DoctorFacts } from './host.js';

const good: DoctorFacts = {
  arch: 'x64',
  nodeVersion: 'v20.20.2',
  qemuVersionOutput: 'QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)\n',
  kvm: { kvmDevice: true, kvmModules: ['kvm_intel', 'kvm'], cpuFlags: ['vmx'] },
  firecrackerVersionOutput: 'Firecracker v1.14.1\n',
  tools: { mmdebstrap: true, 'mkfs.ext4': true, debugfs: true, lz4: true, zstd: true, ip: true, iptables: true },
  busyboxStatic: true,
  dirsWritable: { ok: true, detail: '/s, /r' },
};
const verdict = (f: DoctorFacts, name: string) => evaluate(f).find((c) => c.name === name)!;

describe('doctor verdicts', () => {
  it('passes everything on a complete host', () => {
    expect(evaluate(good).filter((c) => c.verdict !== 'pass')).toEqual([]);
  });
  it('warns (not fails) on a host whose /dev/kvm is kvm_pvm without vmx/svm, saying TCG is used', () => {
    const c = verdict({ ...good, kvm: { kvmDevice: true, kvmModules: ['kvm_pvm'], cpuFlags: ['sse'] } }, 'kvm');
    expect(c.verdict).toBe('warn');
    expect(c.detail).toMatch(/kvm_pvm/);
    expect(c.fix).toMatch(/TCG/);
  });
  it('fails with the apt package to install for missing tools', () => {
    const c = verdict({ ...good, tools: { ...good.tools, mmdebstrap: false } }, 'mmdebstrap');
    expect(c).toMatchObject({ verdict: 'fail', fix: 'apt-get install mmdebstrap' });
    expect(verdict({ ...good, busyboxStatic: false }, 'busybox-static')).toMatchObject({ verdict: 'fail', fix: 'apt-get install busybox-static' });
    expect(verdict({ ...good, qemuVersionOutput: null }, 'qemu').verdict).toBe('fail');
  });
  it('treats firecracker as optional and old node as a failure', () => {
    expect(verdict({ ...good, firecrackerVersionOutput: null }, 'firecracker').verdict).toBe('warn');
    expect(verdict({ ...good, nodeVersion: 'v18.1.0' }, 'node').verdict).toBe('fail');
  });
  it.each([
    // output of `firecracker --version`, KVM usable → verdict, detail, fix
    ['Firecracker v1.14.1\n\nSupported snapshot data format versions: v1.0.0\n', true, 'pass', /^1\.14\.1 \(tested 1\.5 – 1\.14\)$/, null],
    ['Firecracker v1.10.0-dev\n', true, 'pass', /^1\.10\.0-dev/, null],
    ['Firecracker v1.14.1\n', false, 'pass', /unused here: it needs KVM/, null],
    ['Firecracker v1.15.0\n', true, 'warn', /^1\.15\.0/, /newer than the tested range/],
    ['Firecracker v1.6.0\n', true, 'warn', /^1\.6\.0/, /no ACPI device discovery/],
    ['Firecracker v1.4.1\n', true, 'fail', /too old/, /needs 1\.5 or newer.*releases/],
    ['Firecracker v1.4.1\n', false, 'warn', /too old; unused here/, /needs 1\.5 or newer/],
    ['firecracker: something else\n', true, 'warn', /cannot read a version/, /releases/],
    [null, true, 'warn', /not installed \(optional/, /github\.com\/firecracker-microvm\/firecracker\/releases.*>= 1\.5|>= 1\.5.*releases/],
  ] as const)('firecracker %j (kvm usable: %s) → %s', (output, kvmUsable, verdict, detail, fix) => {
    const c = firecrackerCheck(output, kvmUsable);
    expect(c.verdict).toBe(verdict);
    expect(c.detail).toMatch(detail);
    if (fix) expect(c.fix).toMatch(fix);
    else expect(c.fix).toBeUndefined();
  });
  it('doctor uses the firecracker version policy', () => {
    expect(verdict({ ...good, firecrackerVersionOutput: 'Firecracker v1.2.0\n' }, 'firecracker').verdict).toBe('fail');
    // kvm_pvm host: firecracker cannot run anyway, so too old is only a warning
    expect(verdict({ ...good, kvm: { kvmDevice: true, kvmModules: ['kvm_pvm'], cpuFlags: [] }, firecrackerVersionOutput: 'Firecracker v1.2.0\n' }, 'firecracker').verdict).toBe('warn');
  });
  it('tells a static ELF from a dynamic one', () => {
    expect(isStaticElf(readFileSync(process.execPath))).toBe(false);
    expect(isStaticElf(Buffer.from('not an elf'))).toBe(false);
  });
});
