/**
 * banger's initramfs: a static busybox, the virtio modules in load order, the /init script and
 * (kernels pulled from Debian) the guest tools tree under /banger,
 * as a deterministic gzip newc cpio. `initramfsEntries` plans the archive (pure); `buildInitramfs`
 * gathers the inputs from the host and writes initrd.img.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { BangerError } from '../../api/errors.js';
import { type CpioEntry, writeCpio } from './cpio.js';
import { EM_X86_64, PT_INTERP, parseElfHeader, programHeaders } from './elf.js';
import { INIT_SCRIPT } from './initscript.js';
import { selectModules } from './moduletree.js';
import { GUEST_MODULES } from './modorder.js';

export const DEFAULT_BUSYBOX = '/bin/busybox';
const INSTALL_HINT = 'run `apt-get install busybox-static`';

export interface InitramfsModule {
  /** File name in /lib/modules (e.g. virtio-rng.ko). */
  file: string;
  data: Buffer;
}

/** The archive's entries: directories first, then busybox, /init, /dev/console and the modules with their order file. */
export function initramfsEntries(opts: { busybox: Buffer; modules: readonly InitramfsModule[]; initScript?: string }): CpioEntry[] {
  const dirs = ['bin', 'dev', 'etc', 'lib', 'lib/modules', 'newroot', 'proc', 'root', 'sys', 'tmp'];
  const entries: CpioEntry[] = dirs.map((path) => ({ type: 'dir', path, mode: path === 'root' ? 0o700 : path === 'tmp' ? 0o1777 : 0o755 }));
  entries.push(
    { type: 'file', path: 'bin/busybox', mode: 0o755, data: opts.busybox },
    { type: 'symlink', path: 'bin/sh', target: 'busybox' },
    { type: 'file', path: 'init', mode: 0o755, data: Buffer.from(opts.initScript ?? INIT_SCRIPT, 'utf8') },
    // The kernel opens /dev/console for init's stdio before devtmpfs is mounted.
    { type: 'chardev', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
  );
  for (const m of opts.modules) entries.push({ type: 'file', path: `lib/modules/${m.file}`, mode: 0o644, data: m.data });
  entries.push({ type: 'file', path: 'lib/modules/order', mode: 0o644, data: Buffer.from(opts.modules.map((m) => `${m.file}\n`).join(''), 'utf8') });
  return entries;
}

/**
 * gzip'd newc archive of the entries (gzip: every kernel config we boot has RD_GZIP), then, when
 * given, `raw` as a second, uncompressed archive (the kernel unpacks concatenated archives; an
 * uncompressed one must start 4-byte aligned, zeros between are skipped). The guest tools go
 * there: ~20 MB that a TCG guest would spend a second or more gunzipping on every boot is a copy.
 */
export function packInitramfs(entries: readonly CpioEntry[], raw: readonly CpioEntry[] = []): Buffer {
  const gz = gzipSync(writeCpio(entries), { level: 9 });
  if (raw.length === 0) return gz;
  return Buffer.concat([gz, Buffer.alloc((4 - (gz.length % 4)) % 4), writeCpio(raw)]);
}

/** Reads the host's busybox and checks it can run alone in the guest (static, x86-64). */
export async function readStaticBusybox(path = DEFAULT_BUSYBOX): Promise<Buffer> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new BangerError('unavailable', `${path} not found: the initramfs needs a static busybox; ${INSTALL_HINT}`, { cause: err });
  }
  let h;
  try {
    h = parseElfHeader(buf, path);
  } catch (err) {
    throw new BangerError('unavailable', `${path} is not an ELF executable; ${INSTALL_HINT}`, { cause: err });
  }
  if (h.class !== 64 || h.machine !== EM_X86_64) throw new BangerError('unavailable', `${path} is not an x86-64 binary; ${INSTALL_HINT}`);
  if (programHeaders(buf, h, path).some((p) => p.type === PT_INTERP)) {
    throw new BangerError('unavailable', `${path} is dynamically linked and cannot run in the initramfs; ${INSTALL_HINT}`);
  }
  return buf;
}

export interface BuildInitramfsOptions {
  outPath: string;
  /** A /lib/modules/<release> tree to take the virtio modules from; none: the kernel has them built in. */
  modulesDir?: string;
  busyboxPath?: string;
  wanted?: readonly string[];
  /** The guest tools tree (guesttools/fetch.ts); without it only roots with their own init and sshd boot. */
  tools?: readonly CpioEntry[];
}

/** Writes initrd.img; returns the module files it loads, in order. */
export async function buildInitramfs(opts: BuildInitramfsOptions): Promise<{ modules: string[]; size: number }> {
  const busybox = await readStaticBusybox(opts.busyboxPath);
  const modules = opts.modulesDir ? await selectModules(opts.modulesDir, opts.wanted ?? GUEST_MODULES) : [];
  const image = packInitramfs(initramfsEntries({ busybox, modules }), opts.tools);
  await writeFile(opts.outPath, image);
  return { modules: modules.map((m) => m.file), size: image.length };
}
