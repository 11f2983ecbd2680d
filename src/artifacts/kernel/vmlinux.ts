/**
 * vmlinux from a bzImage: QEMU (PVH entry) and Firecracker boot the uncompressed ELF, which under
 * TCG also skips tens of seconds of in-guest decompression. The bzImage header says where the
 * compressed payload is; the last 4 bytes of the payload are the uncompressed size, which is how
 * a truncated extraction is caught. Parsing is pure; `extractVmlinux` does the I/O.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { BangerError } from '../../api/errors.js';
import { run } from '../../host/exec.js';
import { EM_X86_64, ET_EXEC, PT_LOAD, XEN_ELFNOTE_PHYS32_ENTRY, elfNotes, parseElfHeader, programHeaders } from './elf.js';

export { parseElfHeader } from './elf.js';

export type PayloadFormat = 'gzip' | 'lz4' | 'xz' | 'zstd' | 'bzip2' | 'lzma' | 'lzo' | 'unknown';

const MAGICS: Array<[Exclude<PayloadFormat, 'unknown'>, Buffer]> = [
  ['lz4', Buffer.from([0x02, 0x21, 0x4c, 0x18])],
  ['gzip', Buffer.from([0x1f, 0x8b])],
  ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
  ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd])],
  ['bzip2', Buffer.from('BZh', 'latin1')],
  ['lzma', Buffer.from([0x5d, 0x00, 0x00])],
  ['lzo', Buffer.from([0x89, 0x4c, 0x5a, 0x4f])],
];

export interface KernelPayload {
  format: PayloadFormat;
  /** Offset of the compressed stream in the bzImage. */
  offset: number;
  /** Bytes to feed the decompressor (the appended size is excluded for non-gzip formats). */
  length: number;
  /** The vmlinux size the build recorded. */
  uncompressedSize: number;
}

export interface BzImage {
  /** Boot protocol version, e.g. 0x20f. */
  protocol: number;
  payload: KernelPayload;
  /** The kernel_version string ("6.1.0-56-cloud-amd64 (debian-kernel@...) #1 SMP ..."), when present. */
  version?: string;
}

/** Parses an x86 bzImage's setup header. Null when `buf` is not a bzImage with protocol >= 2.08. */
export function parseBzImage(buf: Buffer): BzImage | null {
  if (buf.length < 0x250 || buf.toString('latin1', 0x202, 0x206) !== 'HdrS') return null;
  const protocol = buf.readUInt16LE(0x206);
  if (protocol < 0x208) return null; // payload_offset/length arrived in 2.08
  const setupSects = buf[0x1f1] || 4;
  const start = (setupSects + 1) * 512;
  const offset = start + buf.readUInt32LE(0x248);
  const total = buf.readUInt32LE(0x24c);
  if (total < 8 || offset + total > buf.length) return null;
  const format = payloadFormat(buf.subarray(offset, offset + 8));
  const uncompressedSize = buf.readUInt32LE(offset + total - 4);
  // gzip carries the size in its own trailer (ISIZE); the others get it appended by the kernel build.
  const length = format === 'gzip' ? total : total - 4;
  let version: string | undefined;
  const versionPtr = buf.readUInt16LE(0x20e);
  if (versionPtr !== 0 && versionPtr + 0x200 < buf.length) {
    const at = versionPtr + 0x200;
    const end = buf.indexOf(0, at);
    if (end > at) version = buf.toString('latin1', at, end);
  }
  return { protocol, payload: { format, offset, length, uncompressedSize }, version };
}

export function payloadFormat(head: Buffer): PayloadFormat {
  for (const [format, magic] of MAGICS) if (head.subarray(0, magic.length).equals(magic)) return format;
  return 'unknown';
}

/**
 * Where the LZ4 payload starts: from the bzImage header when there is one, else the first
 * `02 21 4c 18` magic. `length` is known only in the first case.
 */
export function findLz4Payload(buf: Buffer): { offset: number; length?: number } | null {
  const bz = parseBzImage(buf);
  if (bz && bz.payload.format === 'lz4') return { offset: bz.payload.offset, length: bz.payload.length };
  const at = buf.indexOf(MAGICS[0][1]);
  return at < 0 ? null : { offset: at };
}

/** The release (`uname -r`) from a bzImage's version string. */
export function releaseFromBzImage(buf: Buffer): string | undefined {
  return parseBzImage(buf)?.version?.split(' ')[0] || undefined;
}

/** The release from the `Linux version X (` banner inside a vmlinux. */
export function releaseFromVmlinux(buf: Buffer): string | undefined {
  const needle = Buffer.from('Linux version ', 'latin1');
  for (let at = buf.indexOf(needle); at >= 0; at = buf.indexOf(needle, at + 1)) {
    const m = /^Linux version (\S+) \(/.exec(buf.toString('latin1', at, at + 200));
    if (m) return m[1];
  }
  return undefined;
}

export interface VmlinuxInfo {
  /** e_entry, hex (physical for x86-64 kernels, e.g. 0x1000000). */
  entry: string;
  /** Carries the Xen PVH entry note (QEMU needs it to boot the ELF directly). */
  pvh: boolean;
  size: number;
}

const KERNEL_VIRT_BASE = 0xffffffff80000000n;

/** Checks a vmlinux is a complete ELF64 x86-64 kernel image; throws bad_request naming the problem. */
export function checkVmlinux(buf: Buffer, what = 'vmlinux'): VmlinuxInfo {
  const h = parseElfHeader(buf, what);
  if (h.class !== 64 || !h.littleEndian) throw new BangerError('bad_request', `${what} is not an ELF64 little-endian file`);
  if (h.machine !== EM_X86_64) throw new BangerError('bad_request', `${what} is for ELF machine ${h.machine}, not x86-64 (${EM_X86_64})`);
  if (h.type !== ET_EXEC) throw new BangerError('bad_request', `${what} is not an executable ELF (type ${h.type}); is it a kernel?`);
  const inRange = (h.entry >= 0x100000n && h.entry < 0x100000000n) || h.entry >= KERNEL_VIRT_BASE;
  if (!inRange) throw new BangerError('bad_request', `${what} has entry point 0x${h.entry.toString(16)}, outside the kernel's range; is it a kernel?`);
  const loads = programHeaders(buf, h, what).filter((p) => p.type === PT_LOAD);
  if (loads.length === 0) throw new BangerError('bad_request', `${what} has no loadable segments`);
  for (const p of loads) {
    if (p.offset + p.filesz > buf.length) {
      throw new BangerError('bad_request', `${what} is truncated: a segment ends at ${p.offset + p.filesz} but the file has ${buf.length} bytes`);
    }
  }
  const pvh = elfNotes(buf, h, what).some((n) => n.name === 'Xen' && n.type === XEN_ELFNOTE_PHYS32_ENTRY);
  return { entry: `0x${h.entry.toString(16)}`, pvh, size: buf.length };
}

async function decompress(format: PayloadFormat, data: Buffer, what: string): Promise<Buffer> {
  if (format === 'gzip') {
    try {
      return gunzipSync(data);
    } catch (err) {
      throw new BangerError('bad_request', `cannot decompress the gzip payload of ${what}: ${(err as Error).message}`, { cause: err });
    }
  }
  const tools: Partial<Record<PayloadFormat, { argv: string[]; pkg: string }>> = {
    lz4: { argv: ['lz4', '-dc'], pkg: 'lz4' },
    xz: { argv: ['xz', '-dc'], pkg: 'xz-utils' },
    zstd: { argv: ['zstd', '-dc'], pkg: 'zstd' },
    bzip2: { argv: ['bzip2', '-dc'], pkg: 'bzip2' },
    lzma: { argv: ['xz', '--format=lzma', '-dc'], pkg: 'xz-utils' },
  };
  const tool = tools[format];
  if (!tool) throw new BangerError('bad_request', `${what} has a ${format} payload, which banger cannot decompress; pass --vmlinux instead`);
  let r;
  try {
    // The exit code is not trusted either way (lz4 exits 1 on trailing bytes); the ELF check decides.
    r = await run(tool.argv, { input: data, binary: true, check: false });
  } catch (err) {
    throw new BangerError('unavailable', `${tool.argv[0]} is needed to unpack ${what}: run \`apt-get install ${tool.pkg}\``, { cause: err });
  }
  if (r.stdoutBytes.length === 0) {
    throw new BangerError('bad_request', `${tool.argv.join(' ')} produced nothing from ${what} (exit ${r.code}): ${r.stderr.trim().slice(0, 300)}`);
  }
  return r.stdoutBytes;
}

/** Decompresses the vmlinux inside a bzImage Buffer and checks it. */
export async function vmlinuxFromBzImage(bz: Buffer, what = 'bzImage'): Promise<{ vmlinux: Buffer; info: VmlinuxInfo }> {
  const parsed = parseBzImage(bz);
  if (!parsed) {
    if (bz.length >= 4 && bz.readUInt32BE(0) === 0x7f454c46) {
      throw new BangerError('bad_request', `${what} is already an ELF vmlinux, not a bzImage; pass it as --vmlinux`);
    }
    throw new BangerError('bad_request', `${what} is not an x86 bzImage (no HdrS header, or boot protocol older than 2.08)`);
  }
  const { payload } = parsed;
  if (payload.format === 'unknown') throw new BangerError('bad_request', `${what} has a compressed payload of unknown format`);
  const vmlinux = await decompress(payload.format, bz.subarray(payload.offset, payload.offset + payload.length), what);
  if (vmlinux.length !== payload.uncompressedSize) {
    throw new BangerError(
      'bad_request',
      `extracting vmlinux from ${what} gave ${vmlinux.length} bytes, but the kernel build recorded ${payload.uncompressedSize}`,
    );
  }
  return { vmlinux, info: checkVmlinux(vmlinux, `the vmlinux extracted from ${what}`) };
}

/** Extracts the ELF vmlinux from a bzImage file into `outPath`. */
export async function extractVmlinux(bzImagePath: string, outPath: string): Promise<VmlinuxInfo> {
  const { vmlinux, info } = await vmlinuxFromBzImage(await readFile(bzImagePath), bzImagePath);
  await writeFile(outPath, vmlinux);
  return info;
}
