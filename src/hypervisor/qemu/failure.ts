/** Turns the tail of QEMU's log after a failed start into an actionable BangerError. Pure. */
import { BangerError, type ErrorCode } from '../../api/errors.js';

const KNOWN: Array<{ pattern: RegExp; code: ErrorCode; hint: string }> = [
  { pattern: /Could not set up host forwarding rule/i, code: 'conflict', hint: 'a forwarded host port is already in use; pick another port' },
  { pattern: /Failed to get (shared )?"write" lock/i, code: 'conflict', hint: 'the disk is open in another QEMU process; stop that VM first' },
  { pattern: /Could not access KVM kernel module|failed to initialize kvm/i, code: 'unavailable', hint: 'KVM cannot be used here; set accel to "auto" or "tcg"' },
  { pattern: /could not open disk image|Could not open '/i, code: 'not_found', hint: 'a disk, kernel or initrd file is missing' },
  {
    pattern: /Not a migration stream|load of migration failed|backing store size .* does not match|received capability is on/i,
    code: 'conflict',
    hint: 'the saved state does not load (its files are damaged or do not belong together); restore another snapshot or take a new one',
  },
  { pattern: /could not configure \/dev\/net\/tun|tap.*(Operation not permitted|Device or resource busy)/i, code: 'unavailable', hint: 'the tap device cannot be opened; check bridge networking set-up' },
];

export function startFailure(opts: { exitCode: number | null; logPath: string; tail: string }): BangerError {
  // banger's own lines (the whole command line, kilobytes) are in the log file, not the message.
  const tail = opts.tail
    .split('\n')
    .filter((l) => !l.startsWith('[banger] '))
    .join('\n')
    .trim();
  const known = KNOWN.find((k) => k.pattern.test(tail));
  const how = opts.exitCode === null ? 'QEMU stopped answering during start' : `QEMU exited during start (exit ${opts.exitCode})`;
  const message = `${how}${known ? `: ${known.hint}` : ''}. Last lines of ${opts.logPath}:\n${tail || '(empty)'}`;
  return new BangerError(known?.code ?? 'internal', message, { details: { logPath: opts.logPath, exitCode: opts.exitCode } });
}
