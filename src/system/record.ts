/**
 * The install record `sudo banger system install` writes to /etc/banger/install.json: who owns this
 * host's banger (the daemon runs as that user), this install's id (tags every host object the root
 * helper creates), where the two sockets are, and exactly which files install added (so uninstall
 * removes those and nothing else). Read by bangerd (to find the helper), bangerd-root (whom to serve)
 * and the CLI (where the system daemon listens).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { BangerError } from '../api/errors.js';

export const InstallId = z.string().regex(/^[0-9a-f]{8}$/, '8 lowercase hex digits');

export const InstallRecord = z
  .object({
    version: z.literal(1),
    /** Tags taps, bridge aliases and iptables comments made for this install. */
    installId: InstallId,
    owner: z.string().min(1),
    uid: z.number().int().min(1),
    gid: z.number().int().min(0),
    home: z.string().startsWith('/'),
    /** The owner's banger state directory (XDG_STATE_HOME/banger of the owner). */
    stateDir: z.string().startsWith('/'),
    /** bangerd's API socket (RuntimeDirectory of bangerd.service). */
    daemonSocket: z.string().startsWith('/'),
    /** bangerd-root's socket (RuntimeDirectory of bangerd-root.service). */
    helperSocket: z.string().startsWith('/'),
    /** The owner's bridge-mode [network] cidr at install time: bangerd-root accepts guest addresses only inside it. */
    cidr: z.string().optional(),
    /** The owner's jailer_chroot_base at install time: bangerd-root builds jails only under it. */
    jailerBase: z.string().startsWith('/').optional(),
    /** Every file install wrote, absolute (under the install root). */
    files: z.array(z.string().startsWith('/')),
    /** Directories install created (parents of `files`), removed by uninstall when left empty, deepest first. */
    dirs: z.array(z.string().startsWith('/')).optional(),
    installedAt: z.string(),
  })
  .strict();
export type InstallRecord = z.infer<typeof InstallRecord>;

/** The record at `file`, null when there is none; a present but unreadable record is an error naming the fix. */
export function readInstallRecord(file: string): InstallRecord | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new BangerError('unavailable', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new BangerError('unavailable', `${file} is not valid JSON; run \`sudo banger system install\` again`);
  }
  const parsed = InstallRecord.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new BangerError('unavailable', `${file}: ${i.path.join('.') || '(root)'}: ${i.message}; run \`sudo banger system install\` again`);
  }
  return parsed.data;
}
