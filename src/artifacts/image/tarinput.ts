/**
 * Where `image import` reads its tar from: a regular file, opened once and checked with fstat on
 * the opened descriptor (a FIFO, a device such as /dev/zero, a directory or a missing path is
 * refused before a byte is read — the first two would otherwise be read forever), or the
 * client's stdin. Either way the bytes pass a counter that stops the import at a size limit.
 * The path is followed like any path the user names (it is the caller's own file); what is read
 * is decided by the fstat of what was opened, so nothing can be swapped in between.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { BangerError } from '../../api/errors.js';
import { formatBytes } from '../../api/names.js';

/** How to raise the limit, for the error when it is hit. */
export const IMPORT_LIMIT_HINT = 'raise image_import_max_size in config.toml (e.g. "128G") and restart the daemon';

function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Opens `path` for reading as a regular file of at most `maxBytes`; refuses anything else with
 * `bad_request` and the way forward. O_NONBLOCK: opening a FIFO must not wait for a writer.
 */
export async function openTarFile(path: string, maxBytes: number): Promise<Readable> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? `bangerd (uid ${process.getuid?.()}) may not read it` : (err as Error).message;
    throw new BangerError('bad_request', `--rootfs-tar ${path}: ${why}; nothing was imported`, { cause: err });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      throw new BangerError(
        'bad_request',
        `--rootfs-tar ${path} is ${kindOf(st)}; give a regular tar file, or stream it with \`--rootfs-tar -\` (e.g. \`cat ${path} | banger image import NAME --rootfs-tar -\`); nothing was imported`,
      );
    }
    if (st.size > maxBytes) throw tooLarge(`--rootfs-tar ${path} (${formatBytes(st.size)})`, maxBytes);
    return fh.createReadStream({ highWaterMark: 1024 * 1024 });
  } catch (err) {
    await fh.close();
    throw err;
  }
}

function tooLarge(what: string, maxBytes: number): BangerError {
  return new BangerError('bad_request', `${what} exceeds the ${formatBytes(maxBytes)} import limit; ${IMPORT_LIMIT_HINT}; nothing was imported`);
}

/** Passes bytes through until more than `maxBytes` went by, then fails the stream (a file that grows, or endless stdin). */
export function limitBytes(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > maxBytes) return cb(tooLarge('the rootfs tar', maxBytes));
      cb(null, chunk);
    },
  });
}
