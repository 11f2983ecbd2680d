import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, which } from '../../host/exec.js';
import { XEN_ELFNOTE_PHYS32_ENTRY } from './elf.js';
import { buildElf64, elfNote } from '../../../test/elf.fixture.js';
import {
  checkVmlinux,
  extractVmlinux,
  findLz4Payload,
  parseBzImage,
  parseElfHeader,
  payloadFormat,
  releaseFromBzImage,
  releaseFromVmlinux,
  vmlinuxFromBzImage,
} from './vmlinux.js';

const PVH_NOTE = elfNote('Xen', XEN_ELFNOTE_PHYS32_ENTRY, Buffer.from([0x50, 0x08, 0x00, 0x01]));

function fakeVmlinux(opts: { machine?: number; entry?: bigint; pvh?: boolean; truncated?: boolean; type?: number } = {}): Buffer {
  const text = Buffer.concat([Buffer.from('....Linux version 6.9.0-test (me@host) (gcc) #1 SMP\0'), Buffer.alloc(64, 0x90)]);
  const segments = [{ type: 1, data: text, vaddr: 0xffffffff81000000n, paddr: 0x1000000n, filesz: opts.truncated ? text.length + 4096 : undefined }];
  if (opts.pvh !== false) segments.push({ type: 4, data: Buffer.concat([elfNote('Xen', 6, Buffer.from('linux\0')), PVH_NOTE]) } as never);
  return buildElf64({ type: opts.type ?? 2, machine: opts.machine ?? 62, entry: opts.entry ?? 0x1000000n, segments });
}

/** A minimal bzImage: setup header (protocol 2.15), payload = compressed + 4-byte size (non-gzip). */
function fakeBzImage(payload: Buffer, opts: { version?: string; setupSects?: number } = {}): Buffer {
  const setupSects = opts.setupSects ?? 1;
  const start = (setupSects + 1) * 512;
  const payloadOffset = 16;
  const buf = Buffer.alloc(start + payloadOffset + payload.length + 32);
  buf[0x1f1] = setupSects;
  buf.write('HdrS', 0x202, 'latin1');
  buf.writeUInt16LE(0x20f, 0x206);
  buf.writeUInt32LE(payloadOffset, 0x248);
  buf.writeUInt32LE(payload.length, 0x24c);
  if (opts.version) {
    buf.writeUInt16LE(0x300 - 0x200, 0x20e);
    buf.write(opts.version + '\0', 0x300, 'latin1');
  }
  payload.copy(buf, start + payloadOffset);
  return buf;
}

const sizeTrailer = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

describe('parseElfHeader', () => {
  it('reads class, machine, type and entry of a crafted vmlinux', () => {
    const h = parseElfHeader(fakeVmlinux());
    expect(h).toMatchObject({ class: 64, littleEndian: true, type: 2, machine: 62, entry: 0x1000000n, phnum: 2 });
  });

  it.each([
    [Buffer.from('MZ not an elf at all'), /no ELF magic/],
    [Buffer.from([0x7f, 0x45, 0x4c, 0x46, 9, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), /unknown ELF class/],
    [Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), /truncated ELF64 header/],
  ])('rejects %#', (buf, message) => {
    expect(() => parseElfHeader(buf)).toThrow(message);
  });
});

describe('checkVmlinux', () => {
  it('accepts an x86-64 kernel and sees the PVH note', () => {
    expect(checkVmlinux(fakeVmlinux())).toMatchObject({ entry: '0x1000000', pvh: true });
  });

  it('reports a kernel without the PVH note', () => {
    expect(checkVmlinux(fakeVmlinux({ pvh: false })).pvh).toBe(false);
  });

  it('accepts a virtual kernel-range entry point', () => {
    expect(checkVmlinux(fakeVmlinux({ entry: 0xffffffff81000000n })).entry).toBe('0xffffffff81000000');
  });

  it.each([
    ['arm64', { machine: 183 }, /machine 183, not x86-64/],
    ['entry above 4 GiB', { entry: 0x400000000n }, /outside the kernel's range/],
    ['entry below 1 MiB', { entry: 0x1000n }, /outside the kernel's range/],
    ['a shared object', { type: 3 }, /not an executable ELF/],
    ['a truncated segment', { truncated: true }, /truncated/],
  ])('rejects %s', (_what, opts, message) => {
    expect(() => checkVmlinux(fakeVmlinux(opts))).toThrow(message);
  });

  it('rejects ELF32', () => {
    const elf32 = Buffer.alloc(52);
    elf32.writeUInt32BE(0x7f454c46, 0);
    elf32[4] = 1;
    elf32[5] = 1;
    expect(() => checkVmlinux(elf32)).toThrow(/not an ELF64/);
  });
});

describe('bzImage parsing', () => {
  it('finds the payload from the setup header, minus the appended size', () => {
    const payload = Buffer.concat([Buffer.from([0x02, 0x21, 0x4c, 0x18]), Buffer.alloc(20, 7), sizeTrailer(12345)]);
    const bz = fakeBzImage(payload, { version: '6.9.0-test (me@host) #1 SMP' });
    const parsed = parseBzImage(bz)!;
    expect(parsed.protocol).toBe(0x20f);
    expect(parsed.payload).toEqual({ format: 'lz4', offset: 1024 + 16, length: payload.length - 4, uncompressedSize: 12345 });
    expect(findLz4Payload(bz)).toEqual({ offset: 1040, length: payload.length - 4 });
    expect(releaseFromBzImage(bz)).toBe('6.9.0-test');
  });

  it('treats setup_sects 0 as 4', () => {
    const bz = fakeBzImage(Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(10), sizeTrailer(1)]), { setupSects: 4 });
    bz[0x1f1] = 0;
    expect(parseBzImage(bz)?.payload).toMatchObject({ format: 'gzip', offset: 5 * 512 + 16, length: 16 });
  });

  it('returns null for non-bzImages and falls back to scanning for the LZ4 magic', () => {
    const buf = Buffer.alloc(300);
    Buffer.from([0x02, 0x21, 0x4c, 0x18]).copy(buf, 100);
    expect(parseBzImage(buf)).toBeNull();
    expect(findLz4Payload(buf)).toEqual({ offset: 100 });
    expect(findLz4Payload(Buffer.alloc(300))).toBeNull();
  });

  it.each([
    [[0x02, 0x21, 0x4c, 0x18], 'lz4'],
    [[0x1f, 0x8b, 8], 'gzip'],
    [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], 'xz'],
    [[0x28, 0xb5, 0x2f, 0xfd], 'zstd'],
    [[0x42, 0x5a, 0x68], 'bzip2'],
    [[0, 1, 2, 3], 'unknown'],
  ])('payload magic %j is %s', (bytes, format) => {
    expect(payloadFormat(Buffer.from(bytes))).toBe(format);
  });

  it('reads the release from a vmlinux banner', () => {
    expect(releaseFromVmlinux(fakeVmlinux())).toBe('6.9.0-test');
    expect(releaseFromVmlinux(Buffer.from('no banner here'))).toBeUndefined();
  });
});

describe('vmlinuxFromBzImage', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'banger-vmlinux-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('unpacks a gzip payload and checks the ELF', async () => {
    const elf = fakeVmlinux();
    const { vmlinux, info } = await vmlinuxFromBzImage(fakeBzImage(gzipSync(elf)));
    expect(vmlinux.equals(elf)).toBe(true);
    expect(info.pvh).toBe(true);
  });

  it('unpacks an LZ4 (legacy frame) payload with the lz4 binary', async (ctx) => {
    if (!(await which('lz4'))) ctx.skip();
    const elf = fakeVmlinux();
    await writeFile(join(dir, 'elf'), elf);
    const lz = (await run(['lz4', '-l', '-c', join(dir, 'elf')], { binary: true })).stdoutBytes;
    await writeFile(join(dir, 'bz'), fakeBzImage(Buffer.concat([lz, sizeTrailer(elf.length)])));
    const info = await extractVmlinux(join(dir, 'bz'), join(dir, 'vmlinux'));
    expect(info).toMatchObject({ entry: '0x1000000', pvh: true, size: elf.length });
    expect((await readFile(join(dir, 'vmlinux'))).equals(elf)).toBe(true);
  });

  it('fails when the unpacked size differs from the recorded one', async () => {
    const elf = fakeVmlinux();
    const gz = gzipSync(elf);
    gz.writeUInt32LE(elf.length + 1, gz.length - 4); // corrupt ISIZE = recorded size
    await expect(vmlinuxFromBzImage(fakeBzImage(gz))).rejects.toThrow(/gzip payload|the kernel build recorded/);
  });

  it('fails clearly when the payload is not a kernel', async () => {
    await expect(vmlinuxFromBzImage(fakeBzImage(gzipSync(Buffer.from('hello world'))), 'k')).rejects.toThrow(/vmlinux extracted from k is not a usable ELF/);
  });

  it('says so when given a vmlinux instead of a bzImage', async () => {
    await expect(vmlinuxFromBzImage(fakeVmlinux(), 'v')).rejects.toThrow(/v is already an ELF vmlinux, not a bzImage; pass it as --vmlinux/);
  });

  it('rejects garbage', async () => {
    await expect(vmlinuxFromBzImage(Buffer.alloc(4096), 'g')).rejects.toThrow(/g is not an x86 bzImage/);
  });
});
