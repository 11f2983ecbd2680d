/**
 * Which shared libraries a program needs: DT_NEEDED from an ELF's .dynamic section, and the
 * closure of those names over a set of library files. Pure (Buffers and maps in, names out); the
 * guest-tools bundle uses it to copy exactly the libraries its programs load, and to fail at build
 * time, naming the library, rather than in a guest that cannot start sshd.
 */
import { BangerError } from '../../api/errors.js';
import { EM_X86_64, PT_INTERP, parseElfHeader, programHeaders, sectionByName } from '../kernel/elf.js';

const DT_NULL = 0n;
const DT_NEEDED = 1n;

/** The sonames an x86-64 ELF asks for (DT_NEEDED, in order), and whether it is dynamically linked. */
export function neededLibraries(buf: Buffer, what = 'file'): { dynamic: boolean; needed: string[] } {
  const h = parseElfHeader(buf, what);
  if (h.class !== 64 || h.machine !== EM_X86_64) throw new BangerError('internal', `${what} is not an x86-64 ELF`);
  const dynamic = programHeaders(buf, h, what).some((p) => p.type === PT_INTERP);
  const dyn = sectionByName(buf, h, '.dynamic', what);
  const str = sectionByName(buf, h, '.dynstr', what);
  if (!dyn || !str) return { dynamic, needed: [] };
  const needed: string[] = [];
  for (let o = 0; o + 16 <= dyn.length; o += 16) {
    const tag = dyn.readBigInt64LE(o);
    if (tag === DT_NULL) break;
    if (tag !== DT_NEEDED) continue;
    const off = Number(dyn.readBigUInt64LE(o + 8));
    const end = str.indexOf(0, off);
    if (off >= str.length || end < 0) throw new BangerError('internal', `${what}: DT_NEEDED points outside .dynstr`);
    needed.push(str.toString('latin1', off, end));
  }
  return { dynamic, needed };
}

/**
 * Every soname reachable from `roots` through `neededOf` (soname -> its own DT_NEEDED, for the
 * libraries available). Throws naming the first soname nobody provides and who asked for it.
 */
export function libraryClosure(roots: readonly { name: string; needed: readonly string[] }[], neededOf: ReadonlyMap<string, readonly string[]>): string[] {
  const seen = new Set<string>();
  const queue: { soname: string; by: string }[] = roots.flatMap((r) => r.needed.map((soname) => ({ soname, by: r.name })));
  while (queue.length > 0) {
    const { soname, by } = queue.shift()!;
    if (seen.has(soname)) continue;
    const next = neededOf.get(soname);
    if (!next) throw new BangerError('internal', `the guest tools need ${soname} (for ${by}) but no fetched Debian package provides it`);
    seen.add(soname);
    for (const n of next) queue.push({ soname: n, by: soname });
  }
  return [...seen].sort();
}
