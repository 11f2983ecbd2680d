/**
 * newc ("070701") cpio, the format the kernel unpacks an initramfs from. Writing it ourselves
 * means no host cpio, deterministic output (mtime 0, sequential inodes), and device nodes
 * (/dev/console) without root. Pure: entries in, Buffer out; `readCpio` is the inverse.
 */
import { BangerError } from '../../api/errors.js';

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; mode?: number; data: Buffer }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'chardev'; path: string; mode?: number; major: number; minor: number };

const TRAILER = 'TRAILER!!!';
const MAGIC = '070701';

const hex8 = (n: number) => {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new BangerError('internal', `cpio field out of range: ${n}`);
  return n.toString(16).padStart(8, '0');
};
const pad4 = (n: number) => (4 - (n % 4)) % 4;

function checkPath(path: string): string {
  // Archive paths are relative ("init", "bin/busybox"), as the kernel expects.
  const p = path.replace(/^\/+/, '');
  if (p === '' || p.split('/').some((s) => s === '' || s === '.' || s === '..') || p.includes('\0')) {
    throw new BangerError('internal', `invalid cpio path: ${JSON.stringify(path)}`);
  }
  return p;
}

function header(fields: { ino: number; mode: number; nlink: number; size: number; rmajor: number; rminor: number; name: string }): Buffer {
  const nameBytes = Buffer.from(fields.name + '\0', 'utf8');
  const text =
    MAGIC +
    [fields.ino, fields.mode, 0, 0, fields.nlink, 0, fields.size, 0, 0, fields.rmajor, fields.rminor, nameBytes.length, 0].map(hex8).join('');
  const head = Buffer.concat([Buffer.from(text, 'ascii'), nameBytes]);
  return Buffer.concat([head, Buffer.alloc(pad4(head.length))]);
}

/** Serialises entries in the given order (parents must come before children), then the trailer. */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    const name = checkPath(e.path);
    let mode: number;
    let data: Buffer = Buffer.alloc(0);
    let nlink = 1;
    let rmajor = 0;
    let rminor = 0;
    switch (e.type) {
      case 'dir':
        mode = S_IFDIR | (e.mode ?? 0o755);
        nlink = 2;
        break;
      case 'file':
        mode = S_IFREG | (e.mode ?? 0o644);
        data = e.data;
        break;
      case 'symlink':
        mode = S_IFLNK | 0o777;
        data = Buffer.from(e.target, 'utf8');
        break;
      case 'chardev':
        mode = S_IFCHR | (e.mode ?? 0o600);
        rmajor = e.major;
        rminor = e.minor;
        break;
    }
    parts.push(header({ ino: ino++, mode, nlink, size: data.length, rmajor, rminor, name }), data, Buffer.alloc(pad4(data.length)));
  }
  parts.push(header({ ino: 0, mode: 0, nlink: 1, size: 0, rmajor: 0, rminor: 0, name: TRAILER }));
  return Buffer.concat(parts);
}

export interface CpioRecord {
  path: string;
  /** Full st_mode (type bits included). */
  mode: number;
  data: Buffer;
  rdevMajor: number;
  rdevMinor: number;
}

/** Parses a newc archive up to its trailer (for tests and for listing an initrd). */
export function readCpio(buf: Buffer): CpioRecord[] {
  const out: CpioRecord[] = [];
  let o = 0;
  for (;;) {
    if (o + 110 > buf.length) throw new BangerError('bad_request', 'cpio archive ends without a trailer');
    if (buf.toString('ascii', o, o + 6) !== MAGIC) throw new BangerError('bad_request', `not a newc cpio header at offset ${o}`);
    const field = (i: number) => parseInt(buf.toString('ascii', o + 6 + i * 8, o + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const rdevMajor = field(9);
    const rdevMinor = field(10);
    const namesize = field(11);
    const nameStart = o + 110;
    const path = buf.toString('utf8', nameStart, nameStart + namesize - 1);
    const dataStart = nameStart + namesize + pad4(110 + namesize);
    if (path === TRAILER) return out;
    if (dataStart + size > buf.length) throw new BangerError('bad_request', `cpio entry ${path} runs past the end of the archive`);
    out.push({ path, mode, data: buf.subarray(dataStart, dataStart + size), rdevMajor, rdevMinor });
    o = dataStart + size + pad4(size);
  }
}
