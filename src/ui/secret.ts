/**
 * The web UI's per-install secret (store/paths.ts `uiSecret`, 0600): made once, read at daemon
 * start. A file that others could read is refused, since whoever reads it can forge sessions.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, readFileSync } from 'node:fs';
import { BangerError } from '../api/errors.js';
import { writeNewFileSync } from '../host/privatefile.js';

export function loadUiSecret(path: string): Buffer {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    try {
      writeNewFileSync(path, `${randomBytes(32).toString('hex')}\n`, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    st = lstatSync(path);
  }
  if (!st.isFile() || (st.mode & 0o077) !== 0 || st.uid !== (process.getuid?.() ?? st.uid)) {
    throw new BangerError('conflict', `${path} must be a regular 0600 file owned by you (it signs web UI sessions); remove it and run \`banger ui\` again`);
  }
  const hex = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new BangerError('conflict', `${path} is not a banger UI secret; remove it and run \`banger ui\` again`);
  return Buffer.from(hex, 'hex');
}
