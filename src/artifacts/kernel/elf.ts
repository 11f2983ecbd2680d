/**
 * Just enough ELF reading for kernel artifacts: the header, program headers (static vs dynamic
 * busybox, vmlinux segments), notes (Xen PVH entry) and sections (a module's .modinfo).
 * Pure: takes a Buffer. Program/section parsing supports ELF64 little-endian only (x86-64).
 */
import { BangerError } from '../../api/errors.js';

export const EM_X86_64 = 62;
export const ET_EXEC = 2;
export const ET_REL = 1;
export const PT_LOAD = 1;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
/** XEN_ELFNOTE_PHYS32_ENTRY: the PVH entry point QEMU and Firecracker use to boot a vmlinux directly. */
export const XEN_ELFNOTE_PHYS32_ENTRY = 18;

export interface ElfHeader {
  class: 32 | 64;
  littleEndian: boolean;
  type: number;
  machine: number;
  entry: bigint;
  phoff: number;
  shoff: number;
  phentsize: number;
  phnum: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
}

export interface ProgramHeader {
  type: number;
  offset: number;
  vaddr: bigint;
  paddr: bigint;
  filesz: number;
  memsz: number;
}

export interface ElfNote {
  name: string;
  type: number;
  desc: Buffer;
}

const bad = (what: string, why: string) => new BangerError('bad_request', `${what} is not a usable ELF file: ${why}`);

/** Parses the ELF identification and header. Throws a bad_request BangerError for anything else. */
export function parseElfHeader(buf: Buffer, what = 'file'): ElfHeader {
  if (buf.length < 16 || buf.readUInt32BE(0) !== 0x7f454c46) throw bad(what, 'no ELF magic');
  const cls = buf[4];
  const data = buf[5];
  if (cls !== 1 && cls !== 2) throw bad(what, `unknown ELF class ${cls}`);
  if (data !== 1 && data !== 2) throw bad(what, `unknown byte order ${data}`);
  const le = data === 1;
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const u64 = (o: number) => (le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o));
  if (cls === 2) {
    if (buf.length < 64) throw bad(what, 'truncated ELF64 header');
    return {
      class: 64,
      littleEndian: le,
      type: u16(16),
      machine: u16(18),
      entry: u64(24),
      phoff: Number(u64(32)),
      shoff: Number(u64(40)),
      phentsize: u16(54),
      phnum: u16(56),
      shentsize: u16(58),
      shnum: u16(60),
      shstrndx: u16(62),
    };
  }
  if (buf.length < 52) throw bad(what, 'truncated ELF32 header');
  return {
    class: 32,
    littleEndian: le,
    type: u16(16),
    machine: u16(18),
    entry: BigInt(u32(24)),
    phoff: u32(28),
    shoff: u32(32),
    phentsize: u16(42),
    phnum: u16(44),
    shentsize: u16(46),
    shnum: u16(48),
    shstrndx: u16(50),
  };
}

function require64le(h: ElfHeader, what: string): void {
  if (h.class !== 64 || !h.littleEndian) throw bad(what, 'expected ELF64 little-endian');
}

export function programHeaders(buf: Buffer, h: ElfHeader, what = 'file'): ProgramHeader[] {
  require64le(h, what);
  const out: ProgramHeader[] = [];
  for (let i = 0; i < h.phnum; i++) {
    const o = h.phoff + i * h.phentsize;
    if (o + 56 > buf.length) throw bad(what, 'program headers run past the end of the file (truncated?)');
    out.push({
      type: buf.readUInt32LE(o),
      offset: Number(buf.readBigUInt64LE(o + 8)),
      vaddr: buf.readBigUInt64LE(o + 16),
      paddr: buf.readBigUInt64LE(o + 24),
      filesz: Number(buf.readBigUInt64LE(o + 32)),
      memsz: Number(buf.readBigUInt64LE(o + 40)),
    });
  }
  return out;
}

/** Notes from every PT_NOTE segment (4-byte aligned name and desc, as x86-64 kernels write them). */
export function elfNotes(buf: Buffer, h: ElfHeader, what = 'file'): ElfNote[] {
  const notes: ElfNote[] = [];
  for (const ph of programHeaders(buf, h, what)) {
    if (ph.type !== PT_NOTE) continue;
    const end = Math.min(ph.offset + ph.filesz, buf.length);
    let o = ph.offset;
    while (o + 12 <= end) {
      const namesz = buf.readUInt32LE(o);
      const descsz = buf.readUInt32LE(o + 4);
      const type = buf.readUInt32LE(o + 8);
      const nameStart = o + 12;
      const descStart = nameStart + align4(namesz);
      const next = descStart + align4(descsz);
      if (next > end) break;
      const name = buf.subarray(nameStart, nameStart + namesz).toString('latin1').replace(/\0+$/, '');
      notes.push({ name, type, desc: buf.subarray(descStart, descStart + descsz) });
      o = next;
    }
  }
  return notes;
}

const align4 = (n: number) => (n + 3) & ~3;

/** The bytes of the named section, or undefined when the file has no such section. */
export function sectionByName(buf: Buffer, h: ElfHeader, name: string, what = 'file'): Buffer | undefined {
  require64le(h, what);
  if (h.shoff === 0 || h.shnum === 0) return undefined;
  const section = (i: number) => {
    const o = h.shoff + i * h.shentsize;
    if (o + 64 > buf.length) throw bad(what, 'section headers run past the end of the file (truncated?)');
    const offset = Number(buf.readBigUInt64LE(o + 24));
    const size = Number(buf.readBigUInt64LE(o + 32));
    return { nameOff: buf.readUInt32LE(o), type: buf.readUInt32LE(o + 4), offset, size };
  };
  const strtab = section(h.shstrndx);
  for (let i = 0; i < h.shnum; i++) {
    const s = section(i);
    const start = strtab.offset + s.nameOff;
    const nul = buf.indexOf(0, start);
    if (nul < 0) continue;
    if (buf.toString('latin1', start, nul) !== name) continue;
    if (s.offset + s.size > buf.length) throw bad(what, `section ${name} runs past the end of the file`);
    return buf.subarray(s.offset, s.offset + s.size);
  }
  return undefined;
}
