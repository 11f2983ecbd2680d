/**
 * Builds small ELF64 little-endian files for tests: crafted kernels (segments, notes) and
 * modules (sections). Only the fields banger reads are filled in.
 */
export interface FixtureSegment {
  type: number;
  data?: Buffer;
  /** Overrides the recorded file size (e.g. larger than the data, to fake truncation). */
  filesz?: number;
  vaddr?: bigint;
  paddr?: bigint;
}

export interface FixtureElf {
  type: number;
  machine: number;
  entry?: bigint;
  segments?: FixtureSegment[];
  sections?: Array<{ name: string; data: Buffer }>;
}

export function buildElf64(spec: FixtureElf): Buffer {
  const segments = spec.segments ?? [];
  const sections = spec.sections ?? [];
  const phoff = 64;
  let cursor = phoff + segments.length * 56;
  const segOffsets = segments.map((s) => {
    const at = cursor;
    cursor += s.data?.length ?? 0;
    return at;
  });
  const secOffsets = sections.map((s) => {
    const at = cursor;
    cursor += s.data.length;
    return at;
  });
  const names = ['', ...sections.map((s) => s.name), '.shstrtab'];
  const nameOffsets: number[] = [];
  let strtab = Buffer.alloc(0);
  for (const n of names) {
    nameOffsets.push(strtab.length);
    strtab = Buffer.concat([strtab, Buffer.from(n + '\0', 'latin1')]);
  }
  const strtabOff = cursor;
  cursor += strtab.length;
  cursor = (cursor + 7) & ~7;
  const shoff = cursor;
  const shnum = sections.length + 2;
  const buf = Buffer.alloc(shoff + shnum * 64);

  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = 2; // ELF64
  buf[5] = 1; // little-endian
  buf[6] = 1;
  buf.writeUInt16LE(spec.type, 16);
  buf.writeUInt16LE(spec.machine, 18);
  buf.writeUInt32LE(1, 20);
  buf.writeBigUInt64LE(spec.entry ?? 0n, 24);
  buf.writeBigUInt64LE(BigInt(segments.length ? phoff : 0), 32);
  buf.writeBigUInt64LE(BigInt(shoff), 40);
  buf.writeUInt16LE(64, 52);
  buf.writeUInt16LE(56, 54);
  buf.writeUInt16LE(segments.length, 56);
  buf.writeUInt16LE(64, 58);
  buf.writeUInt16LE(shnum, 60);
  buf.writeUInt16LE(shnum - 1, 62);

  segments.forEach((s, i) => {
    const o = phoff + i * 56;
    const size = s.data?.length ?? 0;
    buf.writeUInt32LE(s.type, o);
    buf.writeBigUInt64LE(BigInt(segOffsets[i]), o + 8);
    buf.writeBigUInt64LE(s.vaddr ?? 0n, o + 16);
    buf.writeBigUInt64LE(s.paddr ?? 0n, o + 24);
    buf.writeBigUInt64LE(BigInt(s.filesz ?? size), o + 32);
    buf.writeBigUInt64LE(BigInt(s.filesz ?? size), o + 40);
    s.data?.copy(buf, segOffsets[i]);
  });
  sections.forEach((s, i) => s.data.copy(buf, secOffsets[i]));
  strtab.copy(buf, strtabOff);

  const writeSection = (index: number, nameOff: number, type: number, offset: number, size: number) => {
    const o = shoff + index * 64;
    buf.writeUInt32LE(nameOff, o);
    buf.writeUInt32LE(type, o + 4);
    buf.writeBigUInt64LE(BigInt(offset), o + 24);
    buf.writeBigUInt64LE(BigInt(size), o + 32);
  };
  sections.forEach((s, i) => writeSection(i + 1, nameOffsets[i + 1], 1, secOffsets[i], s.data.length));
  writeSection(shnum - 1, nameOffsets[names.length - 1], 3, strtabOff, strtab.length);
  return buf;
}

/** One ELF note record (4-byte aligned name and desc). */
export function elfNote(name: string, type: number, desc: Buffer): Buffer {
  const n = Buffer.from(name + '\0', 'latin1');
  const head = Buffer.alloc(12);
  head.writeUInt32LE(n.length, 0);
  head.writeUInt32LE(desc.length, 4);
  head.writeUInt32LE(type, 8);
  const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
  return Buffer.concat([head, pad(n), pad(desc)]);
}

/** A crafted kernel module: an ET_REL x86-64 object whose .modinfo holds `fields`. */
export function fakeModule(fields: string[]): Buffer {
  const modinfo = Buffer.from(fields.map((f) => f + '\0').join('') + '\0\0', 'utf8');
  return buildElf64({ type: 1, machine: 62, sections: [{ name: '.text', data: Buffer.from([0xc3]) }, { name: '.modinfo', data: modinfo }] });
}
