/** Turns the tail of QEMU's log after a failed start into an actionable BangerError. Pure. */
import { BangerError, type ErrorCode } from '../../api/errors.js';

const KNOWN: Array<{ pattern: RegExp; code: ErrorCode; hint: string }> = [
  { pattern: /Could not set up host forwarding rule/i, code: 'conflict', hint: 'a forwarded host port is already in use; pick another port' },
  { pattern: /Failed to get (shared )?"write" lock/i, code: 'conflict', hint: 'the disk is open in another QEMU process; stop that VM first' },
  { pattern: /Could not access KVM kernel module|failed to initialize kvm/i, code: 'unavailable', hint: 'KVM cannot be used here; set accel to "auto" or "tcg"' },
  { pattern: /could not open disk image|Could not open '/i, code: 'not_found', hint: 'a disk, kernel or initrd file is missing' },
  { pattern: /could not configure \/dev\/net\/tun|tap.*(Operation not permitted|Device or resource busy)/i, code: 'unavailable', hint: 'the tap device cannot be opened; check bridge networking set-up' },
];

export function startFailure(opts: { exitCode: number | null; logPath: string; tail: string }): BangerError {
  const known = KNOWN.find((k) => k.pattern.test(opts.tail));
  const how = opts.exitCode === null ? 'QEMU stopped answering during start' : `QEMU exited during start (exit ${opts.exitCode})`;
  const message = `${how}${known ? `: ${known.hint}` : ''}. Last lines of ${opts.logPath}:\n${opts.tail || '(empty)'}`;
  return new BangerError(known?.code ?? 'internal', message, { details: { logPath: opts.logPath, exitCode: opts.exitCode } });
}
