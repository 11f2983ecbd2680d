import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BangerError } from '../api/errors.js';
import { decideAccel, kvmUsability, parseCpuFlags, parseProcModules, probeHost, type HostAccelFacts } from './accel.js';

const intel: HostAccelFacts = { kvmDevice: true, kvmModules: ['kvm', 'kvm_intel'], cpuFlags: ['fpu', 'vmx', 'sse2'] };
const amd: HostAccelFacts = { kvmDevice: true, kvmModules: ['kvm', 'kvm_amd'], cpuFlags: ['fpu', 'svm'] };
// This machine: /dev/kvm from kvm_pvm, no vmx/svm flag.
const pvm: HostAccelFacts = { kvmDevice: true, kvmModules: ['kvm', 'kvm_pvm'], cpuFlags: ['fpu', 'hypervisor', 'avx2'] };
const pvmWithVmx: HostAccelFacts = { kvmDevice: true, kvmModules: ['kvm', 'kvm_pvm'], cpuFlags: ['vmx'] };
const noDevice: HostAccelFacts = { kvmDevice: false, kvmModules: [], cpuFlags: ['vmx'] };
const noAccess: HostAccelFacts = { ...intel, kvmAccessible: false };
const builtin: HostAccelFacts = { kvmDevice: true, kvmModules: [], cpuFlags: ['svm'] };
const flagNoModule: HostAccelFacts = { kvmDevice: true, kvmModules: ['kvm'], cpuFlags: ['vmx'] };
const noFlag: HostAccelFacts = { kvmDevice: true, kvmModules: ['kvm', 'kvm_intel'], cpuFlags: ['fpu'] };

describe('kvmUsability', () => {
  it.each([
    ['intel', intel, true, /vmx.*kvm_intel/],
    ['amd', amd, true, /svm.*kvm_amd/],
    ['kvm built in, modules unknown', builtin, true, /svm/],
    ['kvm_pvm without vmx/svm (this host)', pvm, false, /kvm_pvm and the CPU has no vmx\/svm flag; a stock guest kernel hangs/],
    ['kvm_pvm with vmx but no kvm_intel', pvmWithVmx, false, /provided by kvm_pvm; a stock guest kernel hangs/],
    ['no /dev/kvm', noDevice, false, /\/dev\/kvm is missing/],
    ['no access', noAccess, false, /kvm group/],
    ['flag but module missing', flagNoModule, false, /kvm_intel is not loaded/],
    ['module but no flag', noFlag, false, /no vmx\/svm flag/],
  ] as const)('%s', (_label, facts, usable, reason) => {
    const r = kvmUsability(facts);
    expect(r.usable).toBe(usable);
    expect(r.reason).toMatch(reason);
  });
});

describe('decideAccel', () => {
  it.each([
    ['auto on intel', 'auto', intel, 'kvm', /KVM is usable/],
    ['auto on this host', 'auto', pvm, 'tcg', /using TCG.*kvm_pvm/],
    ['auto without /dev/kvm', 'auto', noDevice, 'tcg', /using TCG.*missing/],
    ['tcg on intel', 'tcg', intel, 'tcg', /requested/],
    ['tcg on this host', 'tcg', pvm, 'tcg', /requested/],
    ['kvm on amd', 'kvm', amd, 'kvm', /accel=kvm requested/],
  ] as const)('%s', (_label, requested, facts, accel, reason) => {
    const d = decideAccel({ requested, ...facts });
    expect(d.accel).toBe(accel);
    expect(d.reason).toMatch(reason);
  });

  it.each([
    ['this host', pvm, /kvm_pvm/],
    ['no device', noDevice, /missing/],
  ] as const)('kvm requested on %s is unavailable, not a hang', (_label, facts, reason) => {
    let caught: unknown;
    try {
      decideAccel({ requested: 'kvm', ...facts });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BangerError);
    expect((caught as BangerError).code).toBe('unavailable');
    expect((caught as BangerError).message).toMatch(reason);
    expect((caught as BangerError).message).toMatch(/"auto" or "tcg"/);
  });
});

describe('parsers', () => {
  it('parseCpuFlags reads the first flags line', () => {
    const text = 'processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu vme svm  sse2\nbugs\t: x\n\nprocessor\t: 1\nflags\t\t: other\n';
    expect(parseCpuFlags(text)).toEqual(['fpu', 'vme', 'svm', 'sse2']);
    expect(parseCpuFlags('processor: 0\n')).toEqual([]);
  });
  it('parseProcModules takes the first column', () => {
    expect(parseProcModules('kvm_intel 409600 0 - Live 0x0\nkvm 1146880 1 kvm_intel, Live 0x0\n')).toEqual(['kvm_intel', 'kvm']);
  });
});

describe('probeHost', () => {
  it('reads facts from the given files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'banger-accel-'));
    try {
      await mkdir(join(dir, 'sys', 'kvm'), { recursive: true });
      await mkdir(join(dir, 'sys', 'kvm_amd'));
      await mkdir(join(dir, 'sys', 'ext4'));
      await writeFile(join(dir, 'cpuinfo'), 'flags\t: fpu svm\n');
      const facts = await probeHost({ kvm: join(dir, 'nope'), sysModule: join(dir, 'sys'), cpuinfo: join(dir, 'cpuinfo') });
      expect(facts).toEqual({ kvmDevice: false, kvmAccessible: false, kvmModules: ['kvm', 'kvm_amd'], cpuFlags: ['fpu', 'svm'] });
      // /proc/modules fallback when /sys/module is unreadable
      await writeFile(join(dir, 'modules'), 'kvm_pvm 1 0 - Live 0x0\nkvm 2 1 kvm_pvm, Live 0x0\n');
      const f2 = await probeHost({ kvm: join(dir, 'nope'), sysModule: join(dir, 'missing'), procModules: join(dir, 'modules'), cpuinfo: join(dir, 'cpuinfo') });
      expect(f2.kvmModules).toEqual(['kvm', 'kvm_pvm']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('on this host, auto never picks an accelerator that hangs', async () => {
    const facts = await probeHost();
    const d = decideAccel({ requested: 'auto', ...facts });
    // Whatever the host: kvm is chosen only when usability says so.
    expect(d.accel === 'kvm').toBe(kvmUsability(facts).usable);
    if (facts.kvmModules.includes('kvm_pvm') && !facts.cpuFlags.includes('vmx') && !facts.cpuFlags.includes('svm')) {
      expect(d.accel).toBe('tcg');
    }
  });
});
