import { describe, expect, it } from 'vitest';
import { buildElf64 } from '../../../test/elf.fixture.js';
import { EM_X86_64, PT_INTERP } from '../kernel/elf.js';
import { libraryClosure, neededLibraries } from './elfdeps.js';
import { parseAptDepends } from './fetch.js';
import { GUEST_PATH, LIB_DIR, LOADER, TOOL_PROGRAMS, TOOLS_DIR, followDependency, toolsEntries, wrapperScript } from './plan.js';

/** .dynstr + .dynamic with DT_NEEDED entries for `needed`. */
function dynamicElf(needed: string[], opts: { interp?: boolean } = {}): Buffer {
  const strs = Buffer.concat([Buffer.from([0]), ...needed.map((n) => Buffer.from(`${n}\0`))]);
  const dyn = Buffer.alloc((needed.length + 1) * 16);
  let off = 1;
  needed.forEach((n, i) => {
    dyn.writeBigInt64LE(1n, i * 16);
    dyn.writeBigUInt64LE(BigInt(off), i * 16 + 8);
    off += n.length + 1;
  });
  return buildElf64({
    type: 3,
    machine: EM_X86_64,
    segments: opts.interp ? [{ type: PT_INTERP, data: Buffer.from('/lib64/ld-linux-x86-64.so.2\0') }] : [],
    sections: [
      { name: '.dynstr', data: strs },
      { name: '.dynamic', data: dyn },
    ],
  });
}

describe('neededLibraries', () => {
  it('reads DT_NEEDED in order and whether the file has an interpreter', () => {
    expect(neededLibraries(dynamicElf(['libz.so.1', 'libc.so.6'], { interp: true }))).toEqual({ dynamic: true, needed: ['libz.so.1', 'libc.so.6'] });
  });
  it('a static file needs nothing', () => {
    expect(neededLibraries(buildElf64({ type: 2, machine: EM_X86_64 }))).toEqual({ dynamic: false, needed: [] });
  });
  it('refuses a non-x86-64 ELF', () => {
    expect(() => neededLibraries(buildElf64({ type: 2, machine: 183 }), 'arm')).toThrow(/not an x86-64 ELF/);
  });
});

describe('libraryClosure', () => {
  const libs = new Map<string, string[]>([
    ['libc.so.6', ['ld-linux-x86-64.so.2']],
    ['ld-linux-x86-64.so.2', []],
    ['libz.so.1', ['libc.so.6']],
    ['libunused.so.1', ['libc.so.6']],
  ]);
  it('keeps exactly what the programs reach', () => {
    expect(libraryClosure([{ name: 'git', needed: ['libz.so.1'] }], libs)).toEqual(['ld-linux-x86-64.so.2', 'libc.so.6', 'libz.so.1']);
  });
  it('names a missing library and who asked for it', () => {
    expect(() => libraryClosure([{ name: 'usr/sbin/sshd', needed: ['libwrap.so.0'] }], libs)).toThrow(/need libwrap\.so\.0 \(for usr\/sbin\/sshd\)/);
  });
});

describe('parseAptDepends', () => {
  it('collects Depends and Pre-Depends (first of alternatives, virtual names bracketed)', () => {
    const text = `tar
  PreDepends: libacl1
  PreDepends: libc6
  Depends: <awk>
 |Depends: mawk
  Recommends: xz-utils
<virtual>
  Depends: x
git
  Depends: libpcre2-8-0
`;
    expect(Object.fromEntries(parseAptDepends(text))).toEqual({ tar: ['libacl1', 'libc6', 'awk', 'mawk'], git: ['libpcre2-8-0'] });
  });
});

describe('plan', () => {
  it.each([
    ['libssl3', true],
    ['zlib1g', true],
    ['libcurl3-gnutls', false],
    ['liberror-perl', false],
    ['libpam-modules', false],
    ['libaudit-common', false],
    ['perl', false],
  ])('followDependency(%s) = %s', (name, want) => expect(followDependency(name)).toBe(want));

  it('lays out a tree sshd can run chrooted in, and wrappers for the VM root', () => {
    const programs = new Map(TOOL_PROGRAMS.map((p) => [p.to, Buffer.from(p.to)]));
    const entries = toolsEntries({ busybox: Buffer.from('bb'), loader: Buffer.from('ld'), libraries: new Map([['libc.so.6', Buffer.from('c')]]), programs });
    const paths = new Map(entries.map((e) => [e.path, e]));
    for (const p of ['banger/bin/busybox', `banger/${LOADER}`, `banger/${LIB_DIR}/libc.so.6`, 'banger/usr/sbin/sshd', 'banger/etc/passwd', 'banger/etc/ssh/sshd_config', 'banger/libexec/init', 'banger/run/sshd', 'banger/bin/sh', 'banger/bin/tar', 'banger/bin/git']) {
      expect(paths.has(p), p).toBe(true);
    }
    expect(paths.has('banger/bin/sshd')).toBe(false);
    // Directories come before what is in them.
    const seen = new Set<string>();
    for (const e of entries) {
      const parent = e.path.split('/').slice(0, -1).join('/');
      if (parent) expect(seen.has(parent), e.path).toBe(true);
      seen.add(e.path);
    }
    const passwd = paths.get('banger/etc/passwd');
    expect(passwd?.type === 'file' && passwd.data.toString()).toMatch(/^root:x:0:0:root:\/root:\/bin\/banger-shell$/m);
    const cfg = paths.get('banger/etc/ssh/sshd_config');
    expect(cfg?.type === 'file' && cfg.data.toString()).toMatch(/^PasswordAuthentication no$/m);
  });

  it('wrappers run the program through the bundled loader with its libraries', () => {
    const git = TOOL_PROGRAMS.find((p) => p.wrapper === 'git')!;
    expect(wrapperScript(git)).toBe(
      `#!${TOOLS_DIR}/bin/busybox sh\nexec ${TOOLS_DIR}/${LOADER} --library-path ${TOOLS_DIR}/${LIB_DIR} --argv0 git ${TOOLS_DIR}/usr/bin/git "$@"\n`,
    );
    expect(GUEST_PATH.startsWith(`${TOOLS_DIR}/bin:`)).toBe(true);
    expect(GUEST_PATH.endsWith(`:${TOOLS_DIR}/bb`)).toBe(true);
  });
});
