/**
 * Snapshot files through QEMU migration. Pure: URIs and status parsing.
 *
 * QEMU 7.2 has no `file:` migration URI (8.2 added it), so state goes through `exec:`, run by
 * `/bin/sh -c`. A plain `exec:cat > FILE` races: when QEMU closes the pipe it SIGTERMs the command
 * if it has not exited yet (io/channel-command.c), while `cat` may still be draining the pipe (not
 * seen in 8 tries here, but nothing prevents it under load). So the shell QEMU waits for exits at
 * once, leaving a background `cat` that reads the pipe to EOF, writes a `.part` file and renames it
 * to `.written` when done; the driver waits for `.written` and renames it to the final path.
 */
import { z } from 'zod';
import { quote } from '../../guest/quote.js';

export interface SaveTarget {
  /** The migration URI to pass to QMP `migrate`. */
  uri: string;
  /** Where the stream is written while QEMU sends it. */
  partPath: string;
  /** Appears (by rename) once the writer has seen EOF and everything is on disk. */
  writtenPath: string;
}

export function saveTarget(statePath: string): SaveTarget {
  const partPath = `${statePath}.part`;
  const writtenPath = `${statePath}.written`;
  // A background list gets /dev/null as stdin, so the pipe is kept on fd 3 first.
  const uri = `exec:exec 3<&0; { cat <&3 >${quote(partPath)} && mv ${quote(partPath)} ${quote(writtenPath)}; } &`;
  return { uri, partPath, writtenPath };
}

/** The URI for QMP `migrate-incoming` (reading is safe: QEMU has consumed the stream before it closes). */
export function loadUri(statePath: string): string {
  return `exec:cat ${quote(statePath)}`;
}

/** The parts of `query-migrate` we act on. Absent `status` means no migration has run. */
export const MigrationInfo = z
  .object({
    status: z.string().optional(),
    'error-desc': z.string().optional(),
    'total-time': z.number().optional(),
    ram: z.object({ transferred: z.number() }).passthrough().optional(),
  })
  .passthrough();
export type MigrationInfo = z.infer<typeof MigrationInfo>;

export type MigrationOutcome = { done: false } | { done: true; ok: true } | { done: true; ok: false; error: string };

/** Is the migration over, and how did it end? */
export function migrationOutcome(info: MigrationInfo): MigrationOutcome {
  switch (info.status) {
    case 'completed':
      return { done: true, ok: true };
    case 'failed':
    case 'cancelled':
      return { done: true, ok: false, error: info['error-desc'] ?? `migration ${info.status}` };
    default:
      return { done: false };
  }
}
